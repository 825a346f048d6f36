//! The meetings the emulator has made, and the createOrGet index: tenant + user + externalId
//! name at most one meeting, as Graph documents.
//!
//! Bounded in count and bytes: past either limit new meetings are refused, stored ones stay.

use std::collections::HashMap;

use serde_json::Value;

/// Most meetings kept (the memory bound below usually comes first).
pub(super) const MAX_MEETINGS: usize = 100_000;
/// Most memory kept for meetings, as [`cost`] estimates it: about 25,000 meetings of the
/// emulator's usual size (57 values, 2.7 KB of text), fewer with many attendees.
pub(super) const MAX_STORED_BYTES: usize = 256 * 1024 * 1024;

/// What one JSON value costs in memory beyond its text, about: a parsed value, its map entry,
/// its allocations (an attendee's empty object, grown by the role the emulator adds to it,
/// was measured at about 240 bytes a value; the values of ordinary meetings hold less).
/// Counting the text alone let a meeting of many small values (a third of a million empty
/// attendees) hold twenty times what it was counted as; at 128 a value, meetings of many
/// attendees still held nearly twice their count.
const BYTES_PER_VALUE: usize = 256;

/// About the memory `meeting` holds once parsed.
fn cost(meeting: &Value) -> usize {
    let text = meeting.to_string().len();
    text.saturating_add(super::body::values(meeting).saturating_mul(BYTES_PER_VALUE))
}

/// What identifies a meeting with an external ID. The user is the object ID, so a UPN and the
/// object ID of one user reach the same meeting.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub tenant: String,
    pub user: String,
    pub external_id: String,
}

/// Why a meeting was not stored.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Full;

#[derive(Debug)]
pub(super) struct Store {
    /// Meetings made, by either operation.
    count: usize,
    /// What the index holds: createOrGet's meetings, the only ones kept.
    kept: usize,
    bytes: usize,
    /// [`MAX_STORED_BYTES`], but in tests.
    limit: usize,
    keyed: HashMap<Key, Value>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            count: 0,
            kept: 0,
            bytes: 0,
            limit: MAX_STORED_BYTES,
            keyed: HashMap::new(),
        }
    }
}

impl Store {
    /// Meetings made so far (by create and createOrGet).
    pub fn len(&self) -> usize {
        self.count
    }

    /// The meeting stored under `key`, or the one `make` builds, stored; `true` when it is new.
    /// Looking up and storing happen under one lock, so concurrent callers with one key get
    /// one meeting.
    pub fn get_or_insert(
        &mut self,
        key: Key,
        make: impl FnOnce() -> Value,
    ) -> Result<(Value, bool), Full> {
        if let Some(existing) = self.keyed.get(&key) {
            return Ok((existing.clone(), false));
        }
        let meeting = make();
        self.admit(&key, &meeting)?;
        self.keyed.insert(key, meeting.clone());
        Ok((meeting, true))
    }

    /// Counts a meeting made by create, which keeps no index (create never finds a meeting),
    /// and so nothing to bound: however many are made, the emulator holds none of them.
    pub fn add(&mut self) {
        self.count += 1;
    }

    fn admit(&mut self, key: &Key, meeting: &Value) -> Result<(), Full> {
        // The key's own copies of its names count too: an externalId of a megabyte is held
        // twice, in the meeting and in the index.
        let size =
            cost(meeting).saturating_add(key.tenant.len() + key.user.len() + key.external_id.len());
        if self.kept >= MAX_MEETINGS || self.bytes + size > self.limit {
            return Err(Full);
        }
        self.count += 1;
        self.kept += 1;
        self.bytes += size;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(tenant: &str, user: &str, external_id: &str) -> Key {
        Key {
            tenant: tenant.into(),
            user: user.into(),
            external_id: external_id.into(),
        }
    }

    #[test]
    fn one_meeting_per_tenant_user_and_external_id() {
        let mut store = Store::default();
        let (a, new) = store
            .get_or_insert(key("t", "u", "x"), || json!({"id": "a"}))
            .unwrap();
        assert!(new);
        let (again, new) = store
            .get_or_insert(key("t", "u", "x"), || json!({"id": "b"}))
            .unwrap();
        assert!(!new);
        assert_eq!(again, a);
        for other in [key("t", "v", "x"), key("s", "u", "x"), key("t", "u", "X")] {
            assert!(store.get_or_insert(other, || json!({"id": "c"})).unwrap().1);
        }
        store.add();
        assert_eq!(store.len(), 5);
    }

    #[test]
    fn bytes_are_bounded() {
        let mut store = Store {
            limit: 1024 * 1024,
            ..Store::default()
        };
        let big = json!({"subject": "x".repeat(512 * 1024)});
        store
            .get_or_insert(key("t", "u", "1"), || big.clone())
            .unwrap();
        assert_eq!(
            store.get_or_insert(key("t", "u", "2"), || big.clone()),
            Err(Full)
        );
        assert_eq!(store.len(), 1);
        // Create keeps nothing, so its meetings are counted and never refused for room.
        for _ in 0..100_001 {
            store.add();
        }
        assert_eq!(store.len(), 100_002);
        assert_eq!(
            store
                .get_or_insert(key("t", "u", "1"), || json!({}))
                .map(|(_, new)| new),
            Ok(false)
        );
    }

    #[test]
    fn a_long_external_id_counts_for_both_its_copies() {
        // The index keeps the externalId apart from the meeting that also holds it.
        let limit = 1024 * 1024;
        let mut store = Store {
            limit,
            ..Store::default()
        };
        let mut added = 0;
        loop {
            let id = format!("{added}{}", "x".repeat(200 * 1024));
            let meeting = json!({"externalId": id.clone()});
            if store.get_or_insert(key("t", "u", &id), || meeting).is_err() {
                break;
            }
            added += 1;
        }
        assert!(added * 2 * 200 * 1024 <= limit, "{added} meetings");
    }

    #[test]
    fn many_small_values_are_counted_by_what_they_hold() {
        // Little text, many values: counted at what they cost once parsed, twenty times or
        // more what the text alone would be counted as.
        let limit = 16 * 1024 * 1024;
        let mut store = Store {
            limit,
            ..Store::default()
        };
        let attendees = vec![json!({}); 10_000];
        let meeting = json!({"participants": {"attendees": attendees}});
        let text = meeting.to_string().len();
        let mut added = 0;
        while store
            .get_or_insert(key("t", "u", &added.to_string()), || meeting.clone())
            .is_ok()
        {
            added += 1;
        }
        assert!(added <= limit / (10_000 * BYTES_PER_VALUE), "{added}");
        assert!(added * 20 < limit / text, "{added} of {text} bytes each");
    }
}
