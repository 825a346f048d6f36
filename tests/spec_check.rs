//! The description's rules (spec/check.rs, which build.rs applies before generating): the
//! committed description passes, and each kind of mistake a maintainer can make in it is
//! refused with where it is, instead of generating types that quietly lose what Graph adds.

#[path = "../spec/check.rs"]
mod check;

use serde_json::{json, Value};

fn spec() -> Value {
    let text = include_str!("../spec/onlineMeetings.json");
    serde_json::from_str(text).expect("the description is JSON")
}

/// The description with `change` made to it, checked: the error's text.
fn refused(change: impl FnOnce(&mut Value)) -> String {
    let mut spec = spec();
    change(&mut spec);
    check::check(&spec).expect_err("the changed description is refused")
}

fn schema<'a>(spec: &'a mut Value, name: &str) -> &'a mut Value {
    &mut spec["components"]["schemas"][name]
}

fn assert_names(error: &str, needles: &[&str]) {
    for needle in needles {
        assert!(error.contains(needle), "{needle:?} not in: {error}");
    }
}

#[test]
fn the_committed_description_passes() {
    check::check(&spec()).unwrap();
}

#[test]
fn an_operation_missing_or_answering_another_success_is_refused() {
    let responses =
        |spec: &mut Value, path: &str| -> Value { spec["paths"][path]["post"]["responses"].take() };
    // create answering 200 instead of Microsoft's 201.
    let error = refused(|spec| {
        let mut answers = responses(spec, "/users/{userId}/onlineMeetings");
        let created = answers.as_object_mut().unwrap().remove("201").unwrap();
        answers["200"] = created;
        spec["paths"]["/users/{userId}/onlineMeetings"]["post"]["responses"] = answers;
    });
    assert_names(
        &error,
        &[
            "/paths/~1users~1{userId}~1onlineMeetings/post/responses",
            "[\"200\"]",
            "[\"201\"]",
        ],
    );
    // createOrGet without its 200 (the meeting already existed).
    let error = refused(|spec| {
        let path = "/me/onlineMeetings/createOrGet";
        let mut answers = responses(spec, path);
        answers.as_object_mut().unwrap().remove("200");
        spec["paths"][path]["post"]["responses"] = answers;
    });
    assert_names(&error, &["createOrGet", "[\"200\", \"201\"]"]);
    // An operation taken out.
    let error = refused(|spec| {
        spec["paths"]
            .as_object_mut()
            .unwrap()
            .remove("/me/onlineMeetings");
    });
    assert_names(&error, &["missing", "POST /me/onlineMeetings"]);
    // The user's parameter renamed, the path not: progenitor would panic without saying where.
    let error = refused(|spec| spec["components"]["parameters"]["userId"]["name"] = json!("id"));
    assert_names(
        &error,
        &[
            "/paths/~1users~1{userId}~1onlineMeetings/post/parameters",
            "\"userId\"",
        ],
    );
}

#[test]
fn what_the_operations_rule_allows_still_passes() {
    let mut spec = spec();
    let path = "/me/onlineMeetings/createOrGet";
    // The statuses in another order (kept as written when serde_json preserves order).
    let answers = spec["paths"][path]["post"]["responses"].take();
    let mut reordered = serde_json::Map::new();
    for status in ["201", "4XX", "200", "5XX"] {
        reordered.insert(status.into(), answers[status].clone());
    }
    spec["paths"][path]["post"]["responses"] = Value::Object(reordered);
    // A path parameter declared on the path rather than the operation, as OpenAPI allows.
    let path = "/users/{userId}/onlineMeetings";
    let parameters = spec["paths"][path]["post"]["parameters"]
        .as_array_mut()
        .unwrap();
    let user = parameters.remove(0);
    assert_eq!(user["$ref"], "#/components/parameters/userId");
    spec["paths"][path]["parameters"] = json!([user]);
    check::check(&spec).unwrap();
}

#[test]
fn a_path_parameter_ref_to_nothing_is_named_as_one() {
    let error = refused(|spec| {
        spec["paths"]["/users/{userId}/onlineMeetings"]["post"]["parameters"][0]["$ref"] =
            json!("#/components/parameters/userID");
    });
    assert_names(&error, &["#/components/parameters/userID"]);
    assert!(!error.contains("no parameter"), "{error}");
}

#[test]
fn a_key_written_twice_is_refused_with_where_it_is() {
    let text = include_str!("../spec/onlineMeetings.json");
    assert_eq!(check::parse(text).unwrap(), spec());
    // Not a doubled key, but what an editor may add at the top: said as what it is.
    let marked = check::parse(&format!("\u{feff}{text}")).unwrap_err();
    assert_names(&marked, &["byte-order mark"]);
    // A property pasted a second time into the same schema, which serde_json would take in
    // silence (the last one winning).
    let property = r#""isEndToEndEncryptionEnabled""#;
    assert_eq!(text.matches(property).count(), 1);
    let doubled = text.replacen(
        property,
        &format!(r#"{property}: {{ "type": "boolean" }}, {property}"#),
        1,
    );
    serde_json::from_str::<Value>(&doubled).expect("still JSON to serde_json");
    let error = check::parse(&doubled).unwrap_err();
    assert_names(
        &error,
        &[
            "isEndToEndEncryptionEnabled",
            "written twice",
            "/components/schemas/",
        ],
    );
    // Keys alike only once decoded are the same key; the same key in two objects is fine.
    let escaped = r#"{"a": {"k\u0065y": 1, "key": 2}}"#;
    assert!(check::parse(escaped).unwrap_err().contains("\"key\""));
    check::parse(r#"{"a": {"key": 1}, "b": [{"key": 2}, {"key": 3}], "c": "{\"key\""}"#).unwrap();
}

#[test]
fn every_property_of_the_committed_description_is_described() {
    // Its description is the field's rustdoc; a reference gets one through its allOf wrapper.
    let spec = spec();
    let mut bare = Vec::new();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        for (property, value) in schema["properties"].as_object().into_iter().flatten() {
            if !value["description"].is_string() {
                bare.push(format!("{name}.{property}"));
            }
        }
    }
    assert!(bare.is_empty(), "no description: {bare:?}");
}

#[test]
fn an_object_without_additional_properties_is_refused() {
    // Removed, or misspelled: either way the generated struct would lose its `extra` map.
    let error = refused(|s| {
        schema(s, "chatRestrictions")
            .as_object_mut()
            .unwrap()
            .remove("additionalProperties");
    });
    assert_names(&error, &["/components/schemas/chatRestrictions", "extra"]);
    let error = refused(|s| {
        let fields = schema(s, "itemBody").as_object_mut().unwrap();
        let value = fields.remove("additionalProperties").unwrap();
        fields.insert("additonalProperties".into(), value);
    });
    assert_names(
        &error,
        &["/components/schemas/itemBody", "additionalProperties"],
    );
}

#[test]
fn required_is_refused_on_a_schema_an_answer_holds() {
    // chatRestrictions is reached from onlineMeeting, the answer.
    let error = refused(|s| schema(s, "chatRestrictions")["required"] = json!(["allowTextOnly"]));
    assert_names(
        &error,
        &["/components/schemas/chatRestrictions/required", "answer"],
    );
    // The error body is an answer too.
    let error = refused(|s| schema(s, "innerError")["required"] = json!(["date"]));
    assert_names(&error, &["innerError/required"]);
}

#[test]
fn an_object_inline_is_refused_where_it_stands() {
    let error = refused(|s| {
        schema(s, "onlineMeeting")["properties"]["anonymizeIdentityForRoles"] = json!({
            "type": "object", "additionalProperties": {},
            "properties": {"roles": {"type": "array", "items": {"type": "string"}}}
        });
    });
    assert_names(
        &error,
        &[
            "/components/schemas/onlineMeeting/properties/anonymizeIdentityForRoles",
            "named schema",
        ],
    );
    let error = refused(|s| {
        schema(s, "meetingParticipants")["properties"]["panel"] =
            json!({"type": "array", "items": {"properties": {"upn": {"type": "string"}}}});
    });
    assert_names(&error, &["meetingParticipants/properties/panel/items"]);
}

#[test]
fn an_object_schema_of_another_shape_is_refused() {
    let error = refused(|s| {
        schema(s, "itemBody")
            .as_object_mut()
            .unwrap()
            .remove("type");
    });
    assert_names(
        &error,
        &["/components/schemas/itemBody", "\"type\": \"object\""],
    );
    // Microsoft's full description writes its types as allOf a base type and properties.
    let error = refused(|s| {
        *schema(s, "itemBody") = json!({"allOf": [
            {"$ref": "#/components/schemas/identity"},
            {"type": "object", "additionalProperties": {}, "properties": {}}
        ]});
    });
    assert_names(&error, &["/components/schemas/itemBody/allOf"]);
}

#[test]
fn an_open_enum_of_another_shape_is_refused() {
    // The halves the other way round would read every known value as unknown.
    let error = refused(|s| {
        let one_of = schema(s, "bodyType")["oneOf"].as_array_mut().unwrap();
        one_of.reverse();
    });
    assert_names(
        &error,
        &["/components/schemas/bodyType/oneOf", "in that order"],
    );
    // Its known half must be an enum.
    let error = refused(|s| {
        schema(s, "bodyType")["oneOf"][0] = json!({"$ref": "#/components/schemas/itemBody"});
    });
    assert_names(&error, &["bodyType/oneOf"]);
}

#[test]
fn a_type_that_is_not_openapis_is_refused_where_it_stands() {
    let error = refused(|s| {
        schema(s, "itemBody")["properties"]["content"]["type"] = json!("strin");
    });
    assert_names(
        &error,
        &["strin", "/components/schemas/itemBody/properties/content"],
    );
}

#[test]
fn a_ref_must_name_a_schema_of_its_own() {
    for target in [
        "#/components/schemas/chatInfo/properties/threadId",
        "#/components/schemas",
    ] {
        let error = refused(|s| {
            schema(s, "onlineMeeting")["properties"]["chatInfo"] = json!({"$ref": target});
        });
        assert_names(
            &error,
            &[
                target,
                "/components/schemas/onlineMeeting/properties/chatInfo",
            ],
        );
    }
    let error = refused(|s| {
        schema(s, "onlineMeeting")["properties"]["chatInfo"] =
            json!({"$ref": "#/components/schemas/chatInformation"});
    });
    assert_names(&error, &["names nothing in the file"]);
}

#[test]
fn a_keyword_in_another_case_or_a_name_not_camel_case_is_refused() {
    let error = refused(|s| {
        let fields = schema(s, "bodyType").as_object_mut().unwrap();
        let one_of = fields.remove("oneOf").unwrap();
        fields.insert("oneof".into(), one_of);
    });
    assert_names(&error, &["\"oneof\"", "write \"oneOf\""]);
    let error = refused(|s| {
        let schemas = s["components"]["schemas"].as_object_mut().unwrap();
        let body = schemas.remove("itemBody").unwrap();
        schemas.insert("item_body".into(), body);
    });
    assert_names(&error, &["item_body", "camelCase"]);
    // Two capitals in a row: the generator would name the type `DialInUrLs`.
    let error = refused(|s| {
        let schemas = s["components"]["schemas"].as_object_mut().unwrap();
        let body = schemas.remove("itemBody").unwrap();
        schemas.insert("itemBODY".into(), body);
    });
    assert_names(&error, &["itemBODY", "no two capitals"]);
}

#[test]
fn an_optional_property_that_cannot_be_null_is_refused() {
    // Microsoft's descriptions write collections without `nullable`; generated so, a `null`
    // from Graph would fail the whole answer (after create: a meeting made, reported unknown).
    let error = refused(|s| {
        schema(s, "onlineMeeting")["properties"]["meetingRegions"] =
            json!({"type": "array", "items": {"type": "string"}});
    });
    assert_names(
        &error,
        &[
            "/components/schemas/onlineMeeting/properties/meetingRegions",
            "\"nullable\": true",
        ],
    );
    let error = refused(|s| {
        schema(s, "identity")["properties"]["tenantId"] = json!({"type": "string"});
    });
    assert_names(
        &error,
        &["/components/schemas/identity/properties/tenantId"],
    );
}

#[test]
fn a_property_the_generated_types_would_get_wrong_is_refused() {
    let at = "/components/schemas/";
    let cases = [
        // A default: sent as null in every request, made up where an answer has none.
        (
            "onlineMeeting",
            "allowCopying",
            json!({"type": "boolean", "nullable": true, "default": false}),
            "default",
        ),
        // A string format other than date-time: uuid needs a serde feature the crate lacks.
        (
            "identity",
            "tenantId",
            json!({"type": "string", "nullable": true, "format": "uuid"}),
            "\"uuid\"",
        ),
        // A constrained date-time is generated as chrono's type, not Timestamp.
        (
            "onlineMeeting",
            "expiryDateTime",
            json!({"type": "string", "nullable": true, "format": "date-time",
                "pattern": "^[0-9]{4,}-.*$"}),
            "pattern",
        ),
        (
            "onlineMeeting",
            "expiryDateTime",
            json!({"type": "string", "nullable": true, "format": "date-time", "maxLength": 40}),
            "maxLength",
        ),
        // Two properties, one Rust field; and the generated map's own name.
        (
            "innerError",
            "clientRequestId",
            json!({"type": "string", "nullable": true}),
            "Rust field name",
        ),
        (
            "identity",
            "extra",
            json!({"type": "string", "nullable": true}),
            "`extra`",
        ),
    ];
    for (name, property, shape, says) in cases {
        let error = refused(|s| schema(s, name)["properties"][property] = shape);
        assert_names(
            &error,
            &[&format!("{at}{name}/properties/{property}"), says],
        );
    }
}

#[test]
fn a_constraint_or_a_missing_type_that_would_refuse_graphs_answers_is_refused() {
    // Each passes the generator, and the generated type then fails a whole answer: a language
    // tag longer than 10 characters, a count of 0, any value at all for a `()`.
    let at = "/components/schemas/onlineMeeting/properties/";
    let cases = [
        (
            "meetingSpokenLanguageTag",
            json!({"type": "string", "nullable": true, "maxLength": 10}),
            "meetingSpokenLanguageTag/maxLength",
        ),
        (
            "attendeeCount",
            json!({"type": "integer", "nullable": true, "minimum": 1}),
            "attendeeCount/minimum",
        ),
        (
            "meetingRegions",
            json!({"type": "array", "nullable": true, "uniqueItems": true,
                "items": {"type": "string"}}),
            "meetingRegions/uniqueItems",
        ),
        (
            "meetingRegions",
            json!({"type": "array", "nullable": true,
                "items": {"type": "string", "pattern": "^[a-z]+$"}}),
            "meetingRegions/items/pattern",
        ),
        (
            "meetingCode",
            json!({"type": "string", "nullable": true, "not": {"enum": [""]}}),
            "meetingCode/not",
        ),
        (
            "archivedDateTime",
            json!({"format": "date-time", "nullable": true}),
            "\"type\"",
        ),
    ];
    for (property, shape, says) in cases {
        let error = refused(|s| schema(s, "onlineMeeting")["properties"][property] = shape);
        assert_names(&error, &[&format!("{at}{property}"), says]);
    }
    // A named value: the same rules, and a type of its own.
    let named = [
        (json!({"type": "string", "format": "uuid"}), "\"uuid\""),
        (json!({"type": "string", "maxLength": 36}), "/maxLength"),
        (json!({"format": "date-time"}), "\"type\""),
    ];
    for (shape, says) in named {
        let error = refused(|s| s["components"]["schemas"]["meetingKey"] = shape);
        assert_names(&error, &["/components/schemas/meetingKey", says]);
    }
}

#[test]
fn a_ref_in_a_schema_to_what_is_no_schema_or_a_code_block_in_a_description_is_refused() {
    for target in [
        "#/paths",
        "#/components/responses",
        "#/components/parameters",
    ] {
        let error = refused(|s| {
            schema(s, "onlineMeeting")["properties"]["chatInfo"] = json!({"$ref": target});
        });
        assert_names(
            &error,
            &[
                target,
                "onlineMeeting/properties/chatInfo",
                "a schema of its own",
            ],
        );
    }
    // Outside schemas a `$ref` names what its place takes (a response, a parameter), as the
    // committed description's do.
    let mut spec = spec();
    check::check(&spec).unwrap();
    // Wide of the mark on purpose: every text rustdoc runs as a test (a fence in a quote or a
    // list, code after a heading or a rule, a tab reaching the fourth column, a bare `\r`), and
    // some it would not (an indented line continuing a paragraph): a missed block fails
    // `cargo test` in generated code, a refused one only asks for a rewording.
    for description in [
        "Example:\n```\nlet x = 1;\n```",
        "Example:\n  ~~~\nlet x = 1;\n  ~~~",
        "Example:\n\n    let x = 1;",
        "Tabbed:\n\n\tcode",
        "    let x = 1;",
        "Quoted:\n\n> ```\n> panic!();\n> ```",
        "Steps:\n\n10. ```\n    panic!();\n    ```",
        "# Example\n    panic!();",
        "Example\n-------\n    panic!();",
        "Text\n\n***\n    panic!();",
        "Text\n\n  \tpanic!();",
        "Text\r\r    panic!();",
        "Quoted:\n\n>     panic!();",
        "-     panic!();",
        "A long sentence\n    wrapped with an indent.",
        "Inline ``` backticks.",
    ] {
        let error = refused(|s| {
            schema(s, "onlineMeeting")["properties"]["subject"]["description"] = json!(description);
        });
        assert_names(&error, &["onlineMeeting/properties/subject", "code block"]);
    }
    // Prose, lists and quotes without code still pass.
    for description in [
        "The subject, as `text`; four spaces    inside a line are no block.",
        "1. First step\n2. Second step",
        "- a list\n- of items\n  wrapped by two spaces",
        "> a quote\n> of two lines",
        "Dates like 2024-01-01 and 10:00.",
    ] {
        schema(&mut spec, "onlineMeeting")["properties"]["subject"]["description"] =
            json!(description);
        check::check(&spec).unwrap_or_else(|e| panic!("{description:?}: {e}"));
    }
}

#[test]
fn a_path_or_a_component_called_schema_is_not_taken_for_a_schema() {
    // Graph has paths like /external/connections/{id}/schema; their `$ref`s name parameters
    // and responses, as anywhere outside a schema.
    let mut spec = spec();
    let paths = spec["paths"].as_object_mut().unwrap();
    let (_, item) = paths
        .iter()
        .find(|(_, item)| item.to_string().contains("#/components/parameters/"))
        .map(|(path, item)| (path.clone(), item.clone()))
        .expect("a path whose operation refers to a parameter");
    paths.insert("/me/onlineMeetings/schema".into(), item);
    let responses = spec["components"]["responses"].as_object_mut().unwrap();
    let existing = responses.keys().next().unwrap().clone();
    responses.insert(
        "schema".into(),
        json!({"$ref": format!("#/components/responses/{existing}")}),
    );
    check::check(&spec).unwrap();
}

#[test]
fn what_the_rules_allow_still_passes() {
    // A free-form object (a map alone), a new property of a plain type, an array of
    // references, and a new value of a known enum.
    let mut changed = spec();
    changed["components"]["schemas"]["meetingCustomData"] =
        json!({"type": "object", "additionalProperties": {}});
    let properties = &mut changed["components"]["schemas"]["onlineMeeting"]["properties"];
    properties["customData"] = json!({"$ref": "#/components/schemas/meetingCustomData"});
    properties["meetingCode"] = json!({"type": "string", "nullable": true});
    properties["panelists"] = json!({"type": "array", "nullable": true,
        "items": {"$ref": "#/components/schemas/identitySet"}});
    properties["endedDateTime"] =
        json!({"type": "string", "format": "date-time", "nullable": true, "readOnly": true});
    // A reference with a description of its own, optional with or without nullable.
    properties["coorganizers"] = json!({"allOf": [{"$ref": "#/components/schemas/meetingParticipants"}],
        "description": "Who else organizes."});
    properties["allowMeetingChat"] = json!({"allOf": [{"$ref": "#/components/schemas/meetingChatMode"}],
        "description": "Whether chat is on.", "nullable": true, "readOnly": true});
    changed["components"]["schemas"]["knownBodyType"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("markdown"));
    check::check(&changed).unwrap();
}

#[test]
fn additional_properties_true_is_refused_as_the_generator_ignores_it() {
    let error = refused(|s| schema(s, "chatRestrictions")["additionalProperties"] = json!(true));
    assert_names(&error, &["/components/schemas/chatRestrictions", "`true`"]);
}

#[test]
fn a_property_of_a_shape_that_closes_or_loses_its_type_is_refused() {
    let at = "/components/schemas/onlineMeeting/properties/";
    let cases = [
        // Straight to the closed enum, not its open one.
        (
            "allowedPresenters",
            json!({"$ref": "#/components/schemas/knownOnlineMeetingPresenters"}),
            "closed enum",
        ),
        (
            "meetingMode",
            json!({"type": "string", "enum": ["a", "b"]}),
            "enum inline",
        ),
        // An open enum inline, its halves the other way round.
        (
            "chatMode",
            json!({"oneOf": [{"type": "string"},
                {"allOf": [{"$ref": "#/components/schemas/knownMeetingChatMode"}]}]}),
            "oneOf",
        ),
        // Microsoft's nullable reference.
        (
            "watermarkProtection",
            json!({"anyOf": [{"$ref": "#/components/schemas/watermarkProtectionValues"},
                {"type": "object", "nullable": true}]}),
            "anyOf",
        ),
        (
            "panelists",
            json!({"type": "array", "items": {"anyOf": [{"$ref": "#/components/schemas/identitySet"}]}}),
            "items/anyOf",
        ),
        // A described reference is one $ref alone, with nothing that changes the type beside.
        (
            "participants",
            json!({"allOf": [{"$ref": "#/components/schemas/meetingParticipants"},
                {"$ref": "#/components/schemas/chatInfo"}], "description": "Both."}),
            "allOf",
        ),
        (
            "participants",
            json!({"allOf": [{"$ref": "#/components/schemas/meetingParticipants"}],
                "properties": {}}),
            "object inline",
        ),
        (
            "participants",
            json!({"allOf": [{"$ref": "#/components/schemas/meetingParticipants"}],
                "type": "string"}),
            "allOf",
        ),
        (
            "allowedPresenters",
            json!({"allOf": [{"$ref": "#/components/schemas/knownOnlineMeetingPresenters"}],
                "description": "Who presents."}),
            "closed enum",
        ),
        // Nullable items would each be an Option.
        (
            "panelists",
            json!({"type": "array", "nullable": true, "items": {"allOf": [{"$ref": "#/components/schemas/identitySet"}],
                "description": "One panelist.", "nullable": true}}),
            "items/nullable",
        ),
    ];
    for (property, shape, says) in cases {
        let error = refused(|s| schema(s, "onlineMeeting")["properties"][property] = shape);
        assert_names(&error, &[&format!("{at}{property}"), says]);
    }
    // A named array's items are a property's.
    let error = refused(|s| {
        s["components"]["schemas"]["panel"] =
            json!({"type": "array", "items": {"type": "object", "properties": {}}});
    });
    assert_names(
        &error,
        &["/components/schemas/panel/items", "object inline"],
    );
}

#[test]
fn required_is_refused_on_an_answers_schema_whatever_its_property_is_called() {
    // `parameters` and `requestBody` are keywords of an operation, and names of properties too.
    for name in ["parameters", "requestBody", "settings"] {
        let error = refused(|s| {
            s["components"]["schemas"]["meetingParameters"] = json!({
                "type": "object", "additionalProperties": {}, "required": ["mode"],
                "properties": {"mode": {"type": "string"}}
            });
            schema(s, "onlineMeeting")["properties"][name] =
                json!({"$ref": "#/components/schemas/meetingParameters"});
        });
        assert_names(&error, &["meetingParameters/required"]);
    }
}
