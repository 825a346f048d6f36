//! Request and response types, generated from `spec/` at build time, plus names for the open
//! enums: each is an [`Open`] of its known values (`Known(..)`, or `Other(text)` for a value
//! Graph added since). Date-times are [`Timestamp`]s.
//!
//! Every object type has an `extra` map: the properties this crate does not name. In answers it
//! holds what Graph added since the spec was trimmed, nulls included, so nothing is lost. In
//! requests it sends properties the types lack, as given. Set a property the types name through
//! its field: a request's own `extra` holding one under its exact name (`"endDateTime"`) is
//! read back into the field and checked like it, and refused when the field is set to another
//! value; a name that differs only in case from a checked one (start, end, externalId,
//! chatInfo) is refused, and one of an unchecked property goes out as given; a nested type's
//! `extra` is sent as it is, so a name set there and in its field goes out twice, which Graph
//! refuses (400; when the request's own `extra` is set too, the client refuses it first).

pub use crate::generated::types::*;
pub use crate::open::Open;
pub use crate::timestamp::Timestamp;

/// Who may admit people from the lobby.
pub type AllowedLobbyAdmitterRoles = Open<KnownAllowedLobbyAdmitterRoles>;
/// The format of an [`ItemBody`].
pub type BodyType = Open<KnownBodyType>;
/// Who bypasses the lobby.
pub type LobbyBypassScope = Open<KnownLobbyBypassScope>;
/// How chat history is shared by default.
pub type MeetingChatHistoryDefaultMode = Open<KnownMeetingChatHistoryDefaultMode>;
/// Whether meeting chat is on.
pub type MeetingChatMode = Open<KnownMeetingChatMode>;
/// Whether Live Share is on.
pub type MeetingLiveShareOptions = Open<KnownMeetingLiveShareOptions>;
/// A participant's role.
pub type OnlineMeetingRole = Open<KnownOnlineMeetingRole>;
/// Who can present.
pub type OnlineMeetingPresenters = Open<KnownOnlineMeetingPresenters>;
