//! Which properties, types and enum members a request body may use, read once from the spec
//! the client is generated from (`spec/onlineMeetings.json`, embedded at compile time), so that
//! a property, parameter or enum member added there is accepted here without a second list.
//!
//! The spec is written for a client that must survive a newer Graph: every object is open
//! (`additionalProperties`) and every enum is `oneOf` its known members or any string. Graph is
//! the other side of that: `onlineMeeting` and its complex types are not open types, and an enum
//! property takes only the members Graph knows. So the emulator reads the spec closed: the
//! declared properties and the known members, nothing else.

use std::{collections::HashMap, fmt, sync::LazyLock};

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use serde_json::{Map, Value};

use super::{graph_error::GraphFailure, request::Operation};
use crate::{timestamp::with_seconds, ApiVersion};

/// The spec, as the build read it.
const SPEC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/onlineMeetings.json"
));

/// Properties of the create body (`onlineMeeting`) that only the service sets: accepted and
/// dropped, as Graph ignores them. A test checks that each is a property in the spec and that
/// these are exactly the properties the spec describes as "Read-only.".
pub(super) const READ_ONLY: &[&str] = &[
    "id",
    "creationDateTime",
    "joinWebUrl",
    "videoTeleconferenceId",
    "audioConferencing",
    "joinInformation",
];

/// Graph properties the trimmed spec leaves out but the emulator's own answers carry (schema,
/// property): accepted with any value and dropped, so an answer posted back is not refused.
/// A test checks that the spec names none of them; once it does, its value is checked instead.
const OUTSIDE_SPEC: &[(&str, &str)] = &[
    ("onlineMeeting", "joinUrl"),
    ("onlineMeeting", "outerMeetingAutoAdmittedUsers"),
    ("onlineMeeting", "broadcastSettings"),
    ("identity", "identityProvider"),
];

/// createOrGet parameters that only beta takes (the seeds: "chatInfo is only supported in
/// beta"); the spec serves both versions, so it cannot say this. A test checks each is a
/// createOrGet parameter in the spec.
pub(super) const BETA_ONLY_PARAMETERS: &[&str] = &["chatInfo"];

static RULES: LazyLock<Result<Rules, String>> = LazyLock::new(|| Rules::from_spec(SPEC));

/// The rules read from the embedded spec, or why they could not be read.
pub(super) fn get() -> Result<&'static Rules, &'static str> {
    RULES.as_ref().map_err(String::as_str)
}

/// The request-body rules of both operations.
#[derive(Debug)]
pub(super) struct Rules {
    objects: Vec<ObjectType>,
    enums: Vec<EnumType>,
    create: usize,
    create_or_get: usize,
}

#[derive(Debug)]
struct ObjectType {
    /// The OData name, e.g. `microsoft.graph.onlineMeeting`.
    name: String,
    properties: HashMap<String, Shape>,
    required: Vec<String>,
    /// Accepted with any value and dropped (`OUTSIDE_SPEC`).
    ignored: Vec<&'static str>,
}

#[derive(Debug)]
struct EnumType {
    name: String,
    members: Vec<String>,
}

#[derive(Debug, Clone)]
struct Shape {
    kind: Kind,
    nullable: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    String,
    Boolean,
    Integer,
    Number,
    DateTime,
    Enum(usize),
    Object(usize),
    Array(Box<Shape>),
}

/// Where a value is in the body, kept as links so that a body that passes allocates nothing.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// The member that stands for every member added to an evolvable enumeration after it.
const UNKNOWN_FUTURE_VALUE: &str = "unknownFutureValue";

/// `name@term` and `@term` are OData annotations (`@odata.type`, ...): they describe the
/// payload, are not properties, and the SDKs send them.
fn is_annotation(name: &str) -> bool {
    name.contains('@')
}

/// An `Edm.DateTimeOffset` literal as OData's reader takes it (its seconds padded when
/// missing, then .NET's XML date-time reader): RFC 3339 with a `T` between date and time, an
/// offset of at most 14 hours either way, years 1 to 9999 as written and as UTC, no leap second
/// (.NET's `DateTimeOffset` has no offset past ±14:00, no year 0 and no 61st second). Held as
/// Graph holds it, at the nearest 100 ns tick, a half to the even one.
pub(super) fn instant(literal: &str) -> Option<DateTime<Utc>> {
    const MOST_OFFSET: i32 = 14 * 3600;
    let literal = with_seconds(literal);
    if literal.as_bytes().get(10) != Some(&b'T') || literal.starts_with("0000") {
        return None;
    }
    let at = DateTime::parse_from_rfc3339(&literal)
        .ok()
        .filter(|t| t.offset().local_minus_utc().abs() <= MOST_OFFSET)
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| (1..=9999).contains(&t.year()) && t.nanosecond() < 1_000_000_000)?;
    let nanos = at.nanosecond();
    let tick = at.with_nanosecond(nanos - nanos % 100)?;
    let at = match rounds_up(&literal) {
        true => tick.checked_add_signed(chrono::Duration::nanoseconds(100))?,
        false => tick,
    };
    (at.year() <= 9999).then_some(at)
}

/// Whether .NET's reader rounds the literal's fraction up to the next tick: the digits past
/// the seventh are over half a tick, or exactly half and the seventh digit odd.
fn rounds_up(literal: &str) -> bool {
    let Some(dot) = literal.find('.') else {
        return false;
    };
    let digits: Vec<u8> = literal.as_bytes()[dot + 1..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect();
    match digits.get(7) {
        Some(&d) if d > 5 => true,
        Some(5) if digits[8..].iter().any(|&d| d != 0) => true,
        Some(5) => digits[6] % 2 == 1,
        _ => false,
    }
}

/// A date and time without an offset, which OData's reader refuses for a DateTimeOffset
/// rather than guess the zone it meant.
fn without_offset(literal: &str) -> bool {
    NaiveDateTime::parse_from_str(&with_seconds(literal), "%Y-%m-%dT%H:%M:%S%.f").is_ok()
}

impl Rules {
    /// Checks the body of `operation` on `version` as Graph does: annotations and the ignored
    /// properties are dropped, top-level nulls too (a null is "not given", so the service's
    /// defaults apply); anything the spec does not declare, a value of the wrong type or an
    /// enum value Graph does not know is refused, naming where it is.
    pub fn check(
        &self,
        operation: Operation,
        version: ApiVersion,
        fields: &mut Map<String, Value>,
    ) -> Result<(), GraphFailure> {
        let (index, parameters) = match operation {
            Operation::Create => (self.create, false),
            Operation::CreateOrGet => (self.create_or_get, true),
        };
        let object = &self.objects[index];
        let read_only = |name: &str| operation == Operation::Create && READ_ONLY.contains(&name);
        fields.retain(|name, _| {
            !(is_annotation(name) || object.ignored.contains(&name.as_str()) || read_only(name))
        });
        let not_a_parameter = |name: &str| {
            GraphFailure::bad_request(format!(
                "The parameter '{name}' in the request payload is not a valid parameter for the operation 'createOrGet'."
            ))
        };
        for (name, value) in fields.iter_mut() {
            let Some(shape) = object.properties.get(name) else {
                return Err(if parameters {
                    not_a_parameter(name)
                } else {
                    unknown_property(object, name, &Path::Root)
                });
            };
            // A null is "not given" (dropped below), which v1.0 takes as it takes no value.
            if parameters
                && version == ApiVersion::V1
                && BETA_ONLY_PARAMETERS.contains(&name.as_str())
                && !value.is_null()
            {
                return Err(not_a_parameter(name));
            }
            self.check_value(shape, value, &Path::Key(&Path::Root, name))?;
        }
        for name in &object.required {
            if !fields.contains_key(name) {
                return Err(GraphFailure::bad_request(if parameters {
                    format!("The parameter '{name}' is required.")
                } else {
                    format!("The property '{name}' is required.")
                }));
            }
        }
        fields.retain(|_, value| !value.is_null());
        Ok(())
    }

    fn check_value(
        &self,
        shape: &Shape,
        value: &mut Value,
        path: &Path<'_>,
    ) -> Result<(), GraphFailure> {
        if value.is_null() {
            return if shape.nullable {
                Ok(())
            } else {
                let expected = self.type_name(&shape.kind);
                Err(GraphFailure::bad_request(format!(
                    "A null value was found for the property named '{path}', which has the expected type '{expected}[Nullable=False]'. The expected type '{expected}[Nullable=False]' does not allow null values."
                )))
            };
        }
        let fits = match (&shape.kind, value) {
            (Kind::String, Value::String(_)) | (Kind::Boolean, Value::Bool(_)) => true,
            (Kind::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Kind::Number, Value::Number(_)) => true,
            (Kind::DateTime, Value::String(literal)) => {
                if without_offset(literal) {
                    return Err(GraphFailure::bad_request(format!(
                        "The time zone information is missing on the DateTimeOffset value \
                         '{literal}'. A DateTimeOffset value must contain the time zone \
                         information."
                    )));
                }
                if instant(literal).is_none() {
                    return Err(bad_literal(literal, path, "Edm.DateTimeOffset"));
                }
                true
            }
            (Kind::Enum(index), Value::String(literal)) => {
                let known = &self.enums[*index];
                if !known.members.iter().any(|m| m == literal.as_str()) {
                    return Err(bad_literal(literal, path, &known.name));
                }
                true
            }
            (Kind::Object(index), Value::Object(fields)) => {
                self.check_object(*index, fields, path)?;
                true
            }
            (Kind::Array(item), Value::Array(items)) => {
                for (i, element) in items.iter_mut().enumerate() {
                    self.check_value(item, element, &Path::Index(path, i))?;
                }
                true
            }
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(GraphFailure::bad_request(format!(
                "Cannot convert the value of '{path}' to the expected type '{}'.",
                self.type_name(&shape.kind)
            )))
        }
    }

    fn check_object(
        &self,
        index: usize,
        fields: &mut Map<String, Value>,
        path: &Path<'_>,
    ) -> Result<(), GraphFailure> {
        let object = &self.objects[index];
        fields.retain(|name, _| !is_annotation(name) && !object.ignored.contains(&name.as_str()));
        for (name, value) in fields.iter_mut() {
            let Some(shape) = object.properties.get(name) else {
                return Err(unknown_property(object, name, path));
            };
            self.check_value(shape, value, &Path::Key(path, name))?;
        }
        if let Some(name) = object.required.iter().find(|r| !fields.contains_key(*r)) {
            return Err(GraphFailure::bad_request(format!(
                "The property '{}' is required.",
                Path::Key(path, name)
            )));
        }
        Ok(())
    }

    /// Graph's evolvable enumerations in an answer: a member the spec lists after
    /// `unknownFutureValue` was added later, and is sent as `unknownFutureValue` to a request
    /// that did not ask for such members (`Prefer: include-unknown-enum-members`).
    pub fn hide_evolved_members(&self, meeting: &mut Map<String, Value>) {
        self.hide_in_object(self.create, meeting);
    }

    fn hide_in_object(&self, index: usize, fields: &mut Map<String, Value>) {
        let object = &self.objects[index];
        for (name, value) in fields.iter_mut() {
            if let Some(shape) = object.properties.get(name) {
                self.hide_in_value(shape, value);
            }
        }
    }

    fn hide_in_value(&self, shape: &Shape, value: &mut Value) {
        match (&shape.kind, value) {
            (Kind::Enum(index), Value::String(member)) => {
                let members = &self.enums[*index].members;
                let evolved = members
                    .iter()
                    .position(|m| m == UNKNOWN_FUTURE_VALUE)
                    .is_some_and(|at| members[at + 1..].contains(member));
                if evolved {
                    *member = UNKNOWN_FUTURE_VALUE.to_owned();
                }
            }
            (Kind::Object(index), Value::Object(fields)) => self.hide_in_object(*index, fields),
            (Kind::Array(item), Value::Array(items)) => {
                for element in items {
                    self.hide_in_value(item, element);
                }
            }
            _ => {}
        }
    }

    /// The type as Graph names it in its errors.
    fn type_name(&self, kind: &Kind) -> String {
        match kind {
            Kind::String => "Edm.String".into(),
            Kind::Boolean => "Edm.Boolean".into(),
            Kind::Integer => "Edm.Int64".into(),
            Kind::Number => "Edm.Double".into(),
            Kind::DateTime => "Edm.DateTimeOffset".into(),
            Kind::Enum(index) => self.enums[*index].name.clone(),
            Kind::Object(index) => self.objects[*index].name.clone(),
            Kind::Array(item) => format!("Collection({})", self.type_name(&item.kind)),
        }
    }
}

fn unknown_property(object: &ObjectType, name: &str, parent: &Path<'_>) -> GraphFailure {
    let at = match parent {
        Path::Root => String::new(),
        _ => format!(" (at '{}')", Path::Key(parent, name)),
    };
    GraphFailure::bad_request(format!(
        "The property '{name}' does not exist on type '{}'{at}. Make sure to only use property names that are defined by the type.",
        object.name
    ))
}

fn bad_literal(literal: &str, path: &Path<'_>, expected: &str) -> GraphFailure {
    GraphFailure::bad_request(format!(
        "Cannot convert the literal '{}' of '{path}' to the expected type '{expected}'.",
        literal.chars().take(64).collect::<String>()
    ))
}

impl Rules {
    /// Reads the rules from an OpenAPI 3.0 description; an error names what it could not read.
    fn from_spec(text: &str) -> Result<Self, String> {
        let spec: Value = serde_json::from_str(text).map_err(|e| format!("the spec: {e}"))?;
        let schemas = spec
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .ok_or("the spec has no components.schemas")?;
        let mut reader = Reader {
            schemas,
            objects: Vec::new(),
            enums: Vec::new(),
            named: HashMap::new(),
        };
        let mut body = |suffix: &str| -> Result<usize, String> {
            let name = body_schema(&spec, suffix)?;
            match reader.named(&name)? {
                Kind::Object(index) => Ok(index),
                _ => Err(format!("the body of POST …{suffix} is not an object")),
            }
        };
        let create = body("/onlineMeetings")?;
        let create_or_get = body("/onlineMeetings/createOrGet")?;
        Ok(Self {
            objects: reader.objects,
            enums: reader.enums,
            create,
            create_or_get,
        })
    }
}

/// The schema name of the JSON body of every `POST` whose path ends with `suffix`; they must
/// agree (`/me/...` and `/users/{userId}/...` take the same body).
fn body_schema(spec: &Value, suffix: &str) -> Result<String, String> {
    let paths = spec
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("the spec has no paths")?;
    let mut found: Option<String> = None;
    for (path, item) in paths.iter().filter(|(path, _)| path.ends_with(suffix)) {
        let mut body = item
            .pointer("/post/requestBody")
            .ok_or_else(|| format!("POST {path} has no requestBody"))?;
        if let Some(reference) = body.get("$ref").and_then(Value::as_str) {
            body = reference
                .strip_prefix("#/components/requestBodies/")
                .and_then(|name| spec.pointer("/components/requestBodies")?.get(name))
                .ok_or_else(|| format!("POST {path}: cannot resolve {reference}"))?;
        }
        let name = body
            .pointer("/content/application~1json/schema/$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .ok_or_else(|| format!("POST {path}: the JSON body is not a schema reference"))?;
        match &found {
            Some(other) if other != name => {
                return Err(format!(
                    "POSTs ending {suffix} take different bodies ({other}, {name})"
                ))
            }
            _ => found = Some(name.to_owned()),
        }
    }
    found.ok_or_else(|| format!("the spec has no POST ending {suffix}"))
}

/// Turns the spec's schemas into the rule table, each named schema once.
struct Reader<'a> {
    schemas: &'a Map<String, Value>,
    objects: Vec<ObjectType>,
    enums: Vec<EnumType>,
    named: HashMap<String, Kind>,
}

impl Reader<'_> {
    fn named(&mut self, name: &str) -> Result<Kind, String> {
        if let Some(kind) = self.named.get(name) {
            return Ok(kind.clone());
        }
        let schema = self
            .schemas
            .get(name)
            .ok_or_else(|| format!("no schema '{name}'"))?;
        if schema.get("type").and_then(Value::as_str) == Some("object") {
            // Registered before its properties are read, so a schema may refer to itself.
            let index = self.objects.len();
            self.objects.push(ObjectType {
                name: format!("microsoft.graph.{name}"),
                properties: HashMap::new(),
                required: Vec::new(),
                ignored: OUTSIDE_SPEC
                    .iter()
                    .filter(|(schema, _)| *schema == name)
                    .map(|(_, property)| *property)
                    .collect(),
            });
            self.named.insert(name.to_owned(), Kind::Object(index));
            let declared = schema
                .as_object()
                .ok_or_else(|| format!("{name} is not an object"))?;
            let (properties, required) = self.properties(declared, name)?;
            self.objects[index].properties = properties;
            self.objects[index].required = required;
            return Ok(Kind::Object(index));
        }
        let kind = self.shape(schema, name, Some(name))?.kind;
        self.named.insert(name.to_owned(), kind.clone());
        Ok(kind)
    }

    fn properties(
        &mut self,
        schema: &Map<String, Value>,
        at: &str,
    ) -> Result<(HashMap<String, Shape>, Vec<String>), String> {
        let mut properties = HashMap::new();
        if let Some(declared) = schema.get("properties") {
            let declared = declared
                .as_object()
                .ok_or_else(|| format!("{at}.properties is not an object"))?;
            for (name, property) in declared {
                let shape = self.shape(property, &format!("{at}.{name}"), None)?;
                properties.insert(name.clone(), shape);
            }
        }
        let required = match schema.get("required") {
            None => Vec::new(),
            Some(list) => list
                .as_array()
                .and_then(|l| l.iter().map(|r| r.as_str().map(str::to_owned)).collect())
                .ok_or_else(|| format!("{at}.required is not a list of names"))?,
        };
        Ok((properties, required))
    }

    /// `name` is the schema's own name when it is a named schema (an enum takes it).
    fn shape(&mut self, schema: &Value, at: &str, name: Option<&str>) -> Result<Shape, String> {
        let unsupported = || format!("{at}: a schema the emulator cannot read: {schema}");
        let schema = schema.as_object().ok_or_else(unsupported)?;
        let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
        if let Some(reference) = schema.get("$ref") {
            let target = reference
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .ok_or_else(unsupported)?;
            // OpenAPI 3.0 cannot mark a reference nullable; Graph's complex and enum
            // properties take null (a collection's items do not: see `array`).
            return Ok(Shape {
                kind: self.named(target)?,
                nullable: true,
            });
        }
        if let Some(all_of) = schema.get("allOf").and_then(Value::as_array) {
            let [only] = all_of.as_slice() else {
                return Err(unsupported());
            };
            let inner = self.shape(only, at, name)?;
            return Ok(Shape {
                kind: inner.kind,
                nullable: nullable || inner.nullable,
            });
        }
        if let Some(one_of) = schema.get("oneOf").and_then(Value::as_array) {
            // An open enum: its known members, or any string. Graph takes the known ones.
            let mut known = None;
            for alternative in one_of {
                let plain_string = alternative.get("type").and_then(Value::as_str)
                    == Some("string")
                    && alternative.get("enum").is_none()
                    && alternative.get("format").is_none();
                if plain_string {
                    continue;
                }
                match (self.shape(alternative, at, None)?.kind, known) {
                    (Kind::Enum(index), None) => known = Some(index),
                    _ => return Err(unsupported()),
                }
            }
            let index = known.ok_or_else(unsupported)?;
            let members = self.enums[index].members.clone();
            let enum_name = name.map_or_else(
                || self.enums[index].name.clone(),
                |n| format!("microsoft.graph.{n}"),
            );
            return Ok(Shape {
                kind: self.enumeration(enum_name, members),
                nullable,
            });
        }
        let kind = match schema.get("type").and_then(Value::as_str) {
            Some("string") => match (schema.get("enum"), schema.get("format")) {
                (Some(members), _) => {
                    let members = members
                        .as_array()
                        .and_then(|m| m.iter().map(|v| v.as_str().map(str::to_owned)).collect())
                        .ok_or_else(unsupported)?;
                    let enum_name = format!("microsoft.graph.{}", name.unwrap_or(at));
                    self.enumeration(enum_name, members)
                }
                (None, Some(format)) if format == "date-time" => Kind::DateTime,
                _ => Kind::String,
            },
            Some("boolean") => Kind::Boolean,
            Some("integer") => Kind::Integer,
            Some("number") => Kind::Number,
            Some("array") => {
                let items = schema.get("items").ok_or_else(unsupported)?;
                let mut item = self.shape(items, &format!("{at}[]"), None)?;
                // Items say `nullable` themselves where Graph sends null in a collection: a
                // reference, plain or described, is nullable only as a property.
                let own = items.get("nullable").and_then(Value::as_bool) == Some(true);
                if items.get("$ref").is_some() || (items.get("allOf").is_some() && !own) {
                    item.nullable = false;
                }
                Kind::Array(Box::new(item))
            }
            Some("object") => {
                let (properties, required) = self.properties(schema, at)?;
                self.objects.push(ObjectType {
                    name: at.to_owned(),
                    properties,
                    required,
                    ignored: Vec::new(),
                });
                Kind::Object(self.objects.len() - 1)
            }
            _ => return Err(unsupported()),
        };
        Ok(Shape { kind, nullable })
    }

    fn enumeration(&mut self, name: String, members: Vec<String>) -> Kind {
        self.enums.push(EnumType { name, members });
        Kind::Enum(self.enums.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> Value {
        serde_json::from_str(SPEC).unwrap()
    }

    fn schema<'a>(spec: &'a Value, name: &str) -> &'a Map<String, Value> {
        spec["components"]["schemas"][name]
            .as_object()
            .unwrap_or_else(|| panic!("the spec has no schema {name}"))
    }

    fn property_names(spec: &Value, name: &str) -> Vec<String> {
        let mut names: Vec<String> = schema(spec, name)["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    fn table_names(rules: &Rules, index: usize) -> Vec<String> {
        let mut names: Vec<String> = rules.objects[index].properties.keys().cloned().collect();
        names.sort();
        names
    }

    fn check(rules: &Rules, operation: Operation, body: Value) -> Result<(), GraphFailure> {
        let Value::Object(mut fields) = body else {
            panic!("an object")
        };
        rules.check(operation, ApiVersion::Beta, &mut fields)
    }

    #[test]
    fn the_bodies_are_the_specs_schemas() {
        let rules = get().unwrap();
        let spec = spec();
        assert_eq!(
            rules.objects[rules.create].name,
            "microsoft.graph.onlineMeeting"
        );
        assert_eq!(
            table_names(rules, rules.create),
            property_names(&spec, "onlineMeeting")
        );
        assert_eq!(
            table_names(rules, rules.create_or_get),
            property_names(&spec, "createOrGetRequest")
        );
        assert_eq!(rules.objects[rules.create_or_get].required, ["externalId"]);
    }

    #[test]
    fn a_spec_change_reaches_the_emulator() {
        let mut spec = spec();
        let before = Rules::from_spec(SPEC).unwrap();
        let new_parameter = json!({"externalId": "x", "lobbyNote": "hi"});
        let new_member =
            json!({"externalId": "x", "participants": {"attendees": [{"role": "guestSpeaker"}]}});
        assert!(check(&before, Operation::CreateOrGet, new_parameter.clone()).is_err());
        assert!(check(&before, Operation::CreateOrGet, new_member.clone()).is_err());

        spec["components"]["schemas"]["createOrGetRequest"]["properties"]["lobbyNote"] =
            json!({"type": "string", "nullable": true});
        spec["components"]["schemas"]["knownOnlineMeetingRole"]["enum"]
            .as_array_mut()
            .unwrap()
            .push(json!("guestSpeaker"));
        let after = Rules::from_spec(&spec.to_string()).unwrap();
        check(&after, Operation::CreateOrGet, new_parameter).unwrap();
        check(&after, Operation::CreateOrGet, new_member).unwrap();
    }

    #[test]
    fn a_collections_items_refuse_null_whether_their_reference_is_plain_or_described() {
        let null_attendee = json!({"externalId": "x", "participants": {"attendees": [null]}});
        let plain = Rules::from_spec(SPEC).unwrap();
        assert!(check(&plain, Operation::CreateOrGet, null_attendee.clone()).is_err());
        let mut spec = spec();
        spec["components"]["schemas"]["meetingParticipants"]["properties"]["attendees"]["items"] = json!({
            "allOf": [{"$ref": "#/components/schemas/meetingParticipantInfo"}],
            "description": "One attendee."
        });
        let described = Rules::from_spec(&spec.to_string()).unwrap();
        assert!(check(&described, Operation::CreateOrGet, null_attendee).is_err());
    }

    #[test]
    fn a_schema_the_reader_does_not_know_is_an_error_naming_it() {
        let mut spec = spec();
        spec["components"]["schemas"]["chatInfo"]["properties"]["threadId"] =
            json!({"anyOf": [{"type": "string"}, {"type": "boolean"}]});
        let error = Rules::from_spec(&spec.to_string()).unwrap_err();
        assert!(error.contains("chatInfo.threadId"), "{error}");
    }

    #[test]
    fn read_only_names_are_the_specs() {
        let spec = spec();
        let meeting = schema(&spec, "onlineMeeting")["properties"]
            .as_object()
            .unwrap();
        for name in READ_ONLY {
            assert!(
                meeting.contains_key(*name),
                "READ_ONLY names '{name}', which the spec's onlineMeeting does not declare"
            );
        }
        for (name, property) in meeting {
            // The descriptions end with it ("The meeting's ID. Read-only.").
            let described = property["description"]
                .as_str()
                .is_some_and(|d| d.contains("Read-only."));
            let listed = READ_ONLY.contains(&name.as_str());
            assert!(
                listed || !described,
                "the spec says '{name}' is read-only; READ_ONLY does not list it"
            );
            // A reference is described through its `allOf` wrapper (spec/README.md), so every
            // read-only property says so in its description.
            assert!(
                described || !listed,
                "READ_ONLY lists '{name}', which the spec does not describe as \"Read-only.\""
            );
        }
    }

    #[test]
    fn properties_outside_the_spec_are_outside_it() {
        let spec = spec();
        for (type_name, property) in OUTSIDE_SPEC {
            assert!(
                !property_names(&spec, type_name).contains(&(*property).to_owned()),
                "the spec now declares {type_name}.{property}: remove it from OUTSIDE_SPEC so its value is checked"
            );
        }
    }

    #[test]
    fn beta_only_parameters_are_create_or_get_parameters() {
        let spec = spec();
        for name in BETA_ONLY_PARAMETERS {
            assert!(
                property_names(&spec, "createOrGetRequest").contains(&(*name).to_owned()),
                "BETA_ONLY_PARAMETERS names '{name}', which createOrGetRequest does not declare"
            );
        }
    }
}
