//! The description's own rules, checked before anything is generated from it: mistakes the
//! generator would pass over in silence, or report without saying where, and the shapes the
//! generated types' forward compatibility rests on (spec/README.md). Each failure names where
//! in the file it is.
//!
//! Shared by `build.rs` (which stops the build on a failure) and `tests/spec_check.rs` (which
//! feeds it broken copies of the description), so it uses nothing but `serde_json`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Every rule, in the order a maintainer would fix them.
pub fn check(spec: &Value) -> Result<(), String> {
    names(spec)?;
    walk(spec, spec, &mut String::new(), false, false)?;
    // After `walk`, which names a `$ref` to nothing as one.
    operations(spec)?;
    let schemas = spec["components"]["schemas"]
        .as_object()
        .ok_or("no components/schemas")?;
    let answered = in_answers(spec);
    for (name, schema) in schemas {
        let at = format!("/components/schemas/{name}");
        component(spec, name, schema, &at, answered.contains(name.as_str()))?;
    }
    Ok(())
}

/// The operations the hand-written layer calls (src/client/), with the success statuses it is
/// written for: create answers 201, createOrGet 201 when it made the meeting and 200 when it
/// already existed (Microsoft's pages, spec/README.md). Any other would be generated without a
/// word and then refused by the layer at run time, in words that contradict the description.
const OPERATIONS: [(&str, &[&str]); 4] = [
    ("/me/onlineMeetings", &["201"]),
    ("/users/{userId}/onlineMeetings", &["201"]),
    ("/me/onlineMeetings/createOrGet", &["200", "201"]),
    (
        "/users/{userId}/onlineMeetings/createOrGet",
        &["200", "201"],
    ),
];

fn operations(spec: &Value) -> Result<(), String> {
    for (path, statuses) in OPERATIONS {
        // A JSON pointer spells the path's own slashes `~1`.
        let item = format!("/paths/{}", path.replace('/', "~1"));
        let at = format!("{item}/post/responses");
        let responses = spec
            .pointer(&at)
            .and_then(Value::as_object)
            .ok_or_else(|| {
                format!("{at}: missing; the hand-written layer (src/client/) calls POST {path}")
            })?;
        // Sorted: the keys come in the file's order or serde_json's, as its features say.
        let mut success: Vec<&str> = responses
            .keys()
            .map(String::as_str)
            .filter(|status| status.starts_with('2'))
            .collect();
        success.sort_unstable();
        if success != *statuses {
            return Err(format!(
                "{at}: success statuses {success:?}, but POST {path} answers {statuses:?} (the \
                 hand-written layer, src/client/call.rs, is written for those)"
            ));
        }
        // Each `{name}` of the path must be a path parameter of that name, the operation's or
        // the path's own: progenitor panics on one it cannot map, without saying where.
        let parameters: Vec<&Value> = [
            format!("{item}/post/parameters"),
            format!("{item}/parameters"),
        ]
        .iter()
        .filter_map(|at| spec.pointer(at)?.as_array())
        .flatten()
        .map(|parameter| {
            // `walk` has checked that every `$ref` names something.
            parameter["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|pointer| spec.pointer(pointer))
                .unwrap_or(parameter)
        })
        .collect();
        let named = |wanted: &str| {
            parameters
                .iter()
                .any(|parameter| parameter["in"] == "path" && parameter["name"] == wanted)
        };
        let mut placeholders = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'));
        if let Some(unnamed) = placeholders.find(|p| !named(p)) {
            return Err(format!(
                "{item}/post/parameters: no parameter `in: path` is named {unnamed:?} (there or \
                 on the path), which POST {path} needs"
            ));
        }
    }
    Ok(())
}

/// The description's text, parsed, with no key written twice in one object: serde_json keeps
/// the last in silence, so a property or schema pasted a second time would replace the first
/// without a word. Checked on the text, as the parsed value no longer shows it.
pub fn parse(text: &str) -> Result<Value, String> {
    // What some editors put first: serde_json would only say "expected value at line 1".
    if text.starts_with('\u{feff}') {
        return Err(
            "it starts with a byte-order mark (U+FEFF): save it as UTF-8 without one".into(),
        );
    }
    let spec: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    // Each open object: its keys so far, and whether a key comes next. Arrays hold `None`.
    let mut open: Vec<Option<(BTreeSet<String>, bool)>> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'{' => {
                open.push(Some((BTreeSet::new(), true)));
                path.push(String::new());
            }
            b'[' => open.push(None),
            b'}' => {
                open.pop();
                path.pop();
            }
            b']' => {
                open.pop();
            }
            b',' | b':' => {
                if let Some(Some((_, key_next))) = open.last_mut() {
                    *key_next = bytes[at] == b',';
                }
            }
            b'"' => {
                let start = at;
                at += 1;
                while bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                if let Some(Some((keys, true))) = open.last_mut() {
                    let key: String =
                        serde_json::from_str(&text[start..=at]).map_err(|e| e.to_string())?;
                    if !keys.insert(key.clone()) {
                        let within = path[..path.len() - 1].join("/");
                        return Err(format!("/{within}: the key {key:?} is written twice"));
                    }
                    if let Some(last) = path.last_mut() {
                        *last = key;
                    }
                }
            }
            _ => {}
        }
        at += 1;
    }
    Ok(spec)
}

/// Schema names are camelCase letters and digits, no two capitals in a row: the settings
/// name generated types by capitalising them (`onlineMeeting`, `OnlineMeeting`), and the
/// generator would spell `lobby_bypassScope` or `dialInURLs` another way (`DialInUrLs`), so a
/// patch or replacement would quietly not apply.
fn names(spec: &Value) -> Result<(), String> {
    let names = spec["components"]["schemas"].as_object();
    for name in names.into_iter().flat_map(|schemas| schemas.keys()) {
        let mut chars = name.chars();
        let camel = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_alphanumeric());
        let capitals = name
            .as_bytes()
            .windows(2)
            .any(|pair| pair.iter().all(u8::is_ascii_uppercase));
        if !camel || capitals {
            return Err(format!(
                "schema name {name:?} is not camelCase letters and digits with no two capitals \
                 in a row (like onlineMeeting, dialInUrls); generated type names are made from it"
            ));
        }
    }
    Ok(())
}

const KEYWORDS: [&str; 16] = [
    "$ref",
    "allOf",
    "anyOf",
    "oneOf",
    "additionalProperties",
    "properties",
    "required",
    "items",
    "enum",
    "nullable",
    "type",
    "format",
    "readOnly",
    "writeOnly",
    "discriminator",
    "description",
];

/// Keys whose values are maps of names, not of keywords.
const NAME_MAPS: [&str; 13] = [
    "properties",
    "schemas",
    "parameters",
    "responses",
    "requestBodies",
    "headers",
    "content",
    "paths",
    "securitySchemes",
    "links",
    "callbacks",
    "variables",
    "mapping",
];

const TYPES: [&str; 6] = ["string", "number", "integer", "boolean", "array", "object"];

/// The rules on any value, found at `at` (`names`: its keys are names, not keywords):
/// - a keyword in another case (`allof`, `OneOf`) is not the keyword, and would be ignored;
/// - every `$ref` names something in the file, and one into the schemas names a schema (the
///   generator reports a missing one without saying which property holds it);
/// - a `type` is one of OpenAPI's (the generator stops on another without saying where).
///
/// `in_schema`: `value` is a schema or inside one (a named schema, or what a `schema` keyword
/// holds), where a `$ref` must name a schema. Told by the structure, not by the path's text:
/// a path or a component may be called `schema` too.
fn walk(
    spec: &Value,
    value: &Value,
    at: &mut String,
    names: bool,
    in_schema: bool,
) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                // Examples, defaults and extensions hold data, not the description's keywords.
                if !names
                    && (matches!(key.as_str(), "example" | "examples" | "default")
                        || key.starts_with("x-"))
                {
                    continue;
                }
                if !names {
                    keyword(spec, key, item, at, in_schema)?;
                }
                let schemas = names && at == "/components/schemas";
                let child_in_schema = in_schema || schemas || (!names && key == "schema");
                let len = at.len();
                at.push('/');
                at.push_str(key);
                let maps_names = !names && NAME_MAPS.contains(&key.as_str());
                walk(spec, item, at, maps_names, child_in_schema)?;
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                walk(spec, item, at, false, in_schema)?;
                at.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The rules on one keyword `key` with its `value`, in an object at `at`.
fn keyword(
    spec: &Value,
    key: &str,
    value: &Value,
    at: &str,
    in_schema: bool,
) -> Result<(), String> {
    if let Some(keyword) = KEYWORDS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(key) && **k != key)
    {
        return Err(format!(
            "{key:?} at {at} is not a keyword; write {keyword:?}"
        ));
    }
    match key {
        "$ref" => {
            let target = value.as_str().unwrap_or_default();
            let found = target
                .strip_prefix('#')
                .and_then(|pointer| spec.pointer(pointer))
                .is_some();
            if !found {
                return Err(format!(
                    "the $ref {target:?} at {at} names nothing in the file"
                ));
            }
            // In a schema (a named one, or a body's or parameter's `schema`), a `$ref` names
            // a schema: the generator stops on anything else without saying where it is.
            let schema_of_its_own = target
                .strip_prefix("#/components/schemas/")
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
            let inside = target.starts_with("#/components/schemas/") && !schema_of_its_own;
            if inside || target == "#/components/schemas" || (in_schema && !schema_of_its_own) {
                return Err(format!(
                    "the $ref {target:?} at {at} is not a schema of its own: refer to \
                     #/components/schemas/<name>"
                ));
            }
        }
        // Within `properties`, `type` is a property's name, which `walk` does not ask about;
        // a security scheme's `type` is another keyword's.
        "type"
            if !at.contains("/securitySchemes/")
                && !TYPES.contains(&value.as_str().unwrap_or_default()) =>
        {
            return Err(format!(
                "the type {value} at {at} is not one of OpenAPI's ({})",
                TYPES.join(", ")
            ));
        }
        // rustdoc runs a code block in a doc comment as a test, and the generated types' docs
        // are the descriptions: one would fail `cargo test` inside OUT_DIR's code.
        "description" if value.as_str().is_some_and(code_block) => {
            return Err(format!(
                "the description at {at} holds a code block (a fence, or a line indented four \
                 spaces): rustdoc would run it as a test of the generated code; write it as text"
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Whether `text` may hold a code block, judged wide of the mark on purpose: a fence anywhere
/// (three backticks or tildes), or a line (ended by `\n` or `\r`) whose lead, its spaces and
/// any block-quote or list markers before the text, holds a tab or four spaces in a row.
/// CommonMark finds code after headings, rules, quote and list markers too, and a block missed
/// here fails `cargo test`; one refused that rustdoc would not run only asks for a rewording.
fn code_block(text: &str) -> bool {
    if text.contains("```") || text.contains("~~~") {
        return true;
    }
    text.split(['\n', '\r']).any(|line| {
        let lead: String = line
            .chars()
            .take_while(|c| {
                matches!(
                    c,
                    ' ' | '\t' | '>' | '-' | '*' | '+' | '.' | ')' | '0'..='9'
                )
            })
            .collect();
        lead.contains('\t') || lead.contains("    ")
    })
}

/// Keywords that constrain a value. The generator turns them into types that refuse a value
/// outside them (`maxLength` a string newtype, `minimum: 1` a `NonZeroU64`, `pattern` a
/// regex check), but Graph's answers are not held to the description's constraints: one value
/// outside would fail the whole answer (after create, a meeting made and reported unknown).
const CONSTRAINTS: [&str; 14] = [
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "not",
];

/// The rules on a schema's own keywords, named or a property's: no constraint on its values
/// (see `CONSTRAINTS`; a date-time with one would also be generated as chrono's type, not
/// `Timestamp`), and a string's format, if any, `date-time`.
fn value_rules(schema: &Value, at: &str) -> Result<(), String> {
    if let Some(keyword) = CONSTRAINTS.into_iter().find(|k| schema.get(*k).is_some()) {
        return Err(format!(
            "{at}/{keyword}: the generated type would refuse a value outside a {keyword}, and \
             Graph's answers are not held to the description's: one would fail the whole \
             answer (a date-time with one is also generated as chrono's type, not Timestamp); \
             leave it out"
        ));
    }
    let format = schema.get("format").and_then(Value::as_str);
    if schema.get("type").and_then(Value::as_str) == Some("string") {
        if let Some(format) = format.filter(|f| *f != "date-time") {
            return Err(format!(
                "{at}/format: {format:?} is not a string format the crate generates (only \
                 \"date-time\", as Timestamp); leave it out and keep the value a string"
            ));
        }
    }
    Ok(())
}

/// The shapes a named schema may take, each generated as the hand-written layer expects:
/// - an object: `"type": "object"` and `"additionalProperties": {}` (the generated struct's
///   `extra` map, which keeps what Graph adds; and its `Default`), its properties references
///   or plain values (an object inline would be generated without either), and `required`
///   only where no answer uses it (a property Graph leaves out would fail decoding);
/// - a known enum: `"type": "string"` with `enum`;
/// - an open enum: `oneOf` a known enum (`$ref`, or a lone `allOf` of one) and a plain string,
///   in that order (generated as `Open<Known…>`; the other order would read every known
///   value as unknown).
fn component(
    spec: &Value,
    name: &str,
    schema: &Value,
    at: &str,
    answered: bool,
) -> Result<(), String> {
    let Some(fields) = schema.as_object() else {
        return Err(format!("{at} is not a schema object"));
    };
    for combinator in ["allOf", "anyOf"] {
        if fields.contains_key(combinator) {
            return Err(format!(
                "{at}/{combinator}: a named schema is an object (type, properties, \
                 additionalProperties {{}}), a known enum, or an open enum (oneOf); write \
                 {name} as one of those"
            ));
        }
    }
    if let Some(one_of) = fields.get("oneOf") {
        return open_enum(spec, one_of, &format!("{at}/oneOf"));
    }
    value_rules(schema, at)?;
    let object = fields.contains_key("properties")
        || fields.contains_key("additionalProperties")
        || fields.get("type").and_then(Value::as_str) == Some("object");
    if !object {
        if !fields.contains_key("type") {
            return Err(format!(
                "{at}: a named value says its \"type\" (without one it is generated as a type \
                 no value from Graph fits)"
            ));
        }
        // A known enum, or a named value (an array of them, say): its items as a property's.
        return match fields.get("items") {
            Some(items) => items_shape(spec, items, &format!("{at}/items")),
            None => Ok(()),
        };
    }
    if fields.get("type").and_then(Value::as_str) != Some("object") {
        return Err(format!(
            "{at}: an object schema says \"type\": \"object\" (without it {name} is generated \
             without Default)"
        ));
    }
    // `{}` exactly: the generator takes `true` as it takes no keyword at all.
    if fields.get("additionalProperties") != Some(&Value::Object(Map::new())) {
        return Err(format!(
            "{at}: an object schema has \"additionalProperties\": {{}} (without it, or with \
             `true`, {name} has no `extra` map, and what Graph adds to it is dropped)"
        ));
    }
    if answered && fields.contains_key("required") {
        return Err(format!(
            "{at}/required: {name} is part of an answer, where a required property that Graph \
             leaves out would fail the whole answer's decoding; only a schema no answer uses \
             (createOrGetRequest) may require one"
        ));
    }
    let required: Vec<&str> = match fields.get("required").and_then(Value::as_array) {
        Some(names) => names.iter().filter_map(Value::as_str).collect(),
        None => Vec::new(),
    };
    let mut rust_names = BTreeSet::from(["extra".to_owned()]);
    let properties = fields.get("properties").and_then(Value::as_object);
    for (property, value) in properties.into_iter().flatten() {
        let at = format!("{at}/properties/{property}");
        property_shape(spec, value, &at)?;
        // Rust names drop case and punctuation (`clientRequestId`, `client-request-id`: both
        // `client_request_id`); `extra` is the generated map's own.
        let rust: String = property
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if !rust_names.insert(rust) {
            return Err(format!(
                "{at}: its Rust field name would be the same as another property's of {name} \
                 (or the `extra` map's); rename it"
            ));
        }
        // A plain `$ref` is generated as an `Option` already; anything else needs `nullable`,
        // or a `null` from Graph fails the whole answer.
        let nullable = value.get("nullable") == Some(&Value::Bool(true));
        let reference = value.get("$ref").is_some() || described_reference(value).is_some();
        if !nullable && !reference && !required.contains(&property.as_str()) {
            return Err(format!(
                "{at}: an optional property is \"nullable\": true (Graph sends null freely, and \
                 without it a null fails the whole answer)"
            ));
        }
    }
    Ok(())
}

/// A reference with a description of its own (OpenAPI 3.0 ignores a `$ref`'s siblings):
/// `{"allOf": [{"$ref": …}], "description": …}`, with `nullable` and `readOnly` allowed beside.
/// The generator makes it the referenced type, documented; the `{"$ref": …}` it wraps is returned.
fn described_reference(schema: &Value) -> Option<&Value> {
    let fields = schema.as_object()?;
    let [only] = fields.get("allOf")?.as_array()?.as_slice() else {
        return None;
    };
    let plain_ref = only.as_object().is_some_and(|o| o.len() == 1) && only["$ref"].is_string();
    let beside = fields
        .keys()
        .all(|k| ["allOf", "description", "nullable", "readOnly"].contains(&k.as_str()));
    (plain_ref && beside).then_some(only)
}

/// A property's schema (or an array's items, at any depth): a plain value, or a reference to a
/// named schema that is not a closed enum. Anything else is generated without what the
/// named shapes give: an object inline has no `Default` and no name of ours; an enum inline,
/// or a reference straight to a known enum, is closed, so a value Graph adds fails the whole
/// answer; a `oneOf`, `anyOf` or `allOf` becomes an untagged enum or a struct of flattened
/// halves (Microsoft's `anyOf: [$ref, {nullable}]` for a nullable reference among them: a
/// plain `$ref` is generated as an `Option` already).
fn property_shape(spec: &Value, schema: &Value, at: &str) -> Result<(), String> {
    let inline = schema.get("properties").is_some()
        || schema.get("additionalProperties").is_some()
        || schema.get("type").and_then(Value::as_str) == Some("object");
    if inline {
        return Err(format!(
            "{at}: an object inline; make it a named schema in components/schemas and refer to \
             it (inline, it is generated without Default and without a name of ours)"
        ));
    }
    if schema.get("enum").is_some() {
        return Err(format!(
            "{at}: an enum inline is closed; name it as an open enum (oneOf its known enum and \
             a string) and refer to that"
        ));
    }
    if schema.get("default").is_some() {
        return Err(format!(
            "{at}/default: a default makes every request send the property (null when unset) \
             and fills it in where an answer has none; leave it out"
        ));
    }
    value_rules(schema, at)?;
    if let Some(only) = described_reference(schema) {
        return property_shape(spec, only, &format!("{at}/allOf/0"));
    }
    if let Some(combinator) = ["oneOf", "anyOf", "allOf"]
        .into_iter()
        .find(|c| schema.get(*c).is_some())
    {
        return Err(format!(
            "{at}/{combinator}: a property refers to a named schema with a plain $ref (or, to \
             describe it, an allOf of that $ref alone beside description, nullable or \
             readOnly), or is a plain value"
        ));
    }
    if schema.get("$ref").is_none() && schema.get("type").is_none() {
        return Err(format!(
            "{at}: a plain value says its \"type\" (without one, `format` and the rest are \
             generated as a type no value from Graph fits)"
        ));
    }
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        let named = target
            .strip_prefix('#')
            .and_then(|pointer| spec.pointer(pointer));
        if named.is_some_and(|t| t.get("enum").is_some()) {
            return Err(format!(
                "{at}: refers to the closed enum {target}; refer to its open enum, which keeps \
                 a value Graph adds"
            ));
        }
    }
    match schema.get("items") {
        Some(items) => items_shape(spec, items, &format!("{at}/items")),
        None => Ok(()),
    }
}

/// An array's items: a property's shapes, except that a described reference takes no
/// `nullable` there (it would make every item an `Option`, where a plain `$ref` is not one).
fn items_shape(spec: &Value, items: &Value, at: &str) -> Result<(), String> {
    if described_reference(items).is_some() && items.get("nullable") == Some(&Value::Bool(true)) {
        return Err(format!(
            "{at}/nullable: a described reference in an array's items takes no nullable (each \
             item would be generated as an Option); leave it out"
        ));
    }
    property_shape(spec, items, at)
}

/// `oneOf` of an open enum, at `at`.
fn open_enum(spec: &Value, one_of: &Value, at: &str) -> Result<(), String> {
    let shape = "an open enum is oneOf [{allOf: [{$ref: known enum}]}, {type: string}], in \
                 that order";
    let [known, other] = one_of.as_array().map(Vec::as_slice).unwrap_or_default() else {
        return Err(format!("{at}: {shape}"));
    };
    let reference = known["$ref"].as_str().or_else(|| {
        let all_of = known["allOf"].as_array()?;
        match all_of.as_slice() {
            [only] => only["$ref"].as_str(),
            _ => None,
        }
    });
    let target = reference
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| spec.pointer(pointer));
    let known_enum = target.is_some_and(|t| t["type"] == "string" && t["enum"].is_array());
    let plain_string =
        other["type"] == "string" && other.get("enum").is_none() && other.get("format").is_none();
    if known_enum && plain_string {
        Ok(())
    } else {
        Err(format!("{at}: {shape}"))
    }
}

/// The named schemas an answer can hold: those the responses refer to, and theirs in turn.
fn in_answers(spec: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut queue = Vec::new();
    references(&spec["components"]["responses"], &mut queue);
    // Each operation's responses, not its request body or parameters.
    let operations = spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values());
    let operations = operations
        .filter_map(Value::as_object)
        .flat_map(|item| item.values());
    for operation in operations {
        references(&operation["responses"], &mut queue);
    }
    while let Some(name) = queue.pop() {
        if found.insert(name.clone()) {
            references(&spec["components"]["schemas"][name.as_str()], &mut queue);
        }
    }
    found
}

/// The schema names referred to anywhere in `value`, pushed onto `into`.
fn references(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let target = (key == "$ref").then(|| item.as_str()).flatten();
                if let Some(name) = target.and_then(|r| r.strip_prefix("#/components/schemas/")) {
                    into.push(name.to_owned());
                }
                references(item, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, into)),
        _ => {}
    }
}
