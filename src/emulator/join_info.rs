//! `joinInformation`: the HTML invitation Graph writes in the language `Accept-Language` asks
//! for, English when it does not know the language.

use serde_json::{json, Value};

/// The invitation's phrases in one language.
struct Phrases {
    tag: &'static str,
    join: &'static str,
    meeting_id: &'static str,
    passcode: &'static str,
    dial_in: &'static str,
    conference_id: &'static str,
}

const LANGUAGES: &[Phrases] = &[
    Phrases {
        tag: "en",
        join: "Join Microsoft Teams Meeting",
        meeting_id: "Meeting ID",
        passcode: "Passcode",
        dial_in: "Dial in by phone",
        conference_id: "Phone conference ID",
    },
    Phrases {
        tag: "pt",
        join: "Participar da reunião do Microsoft Teams",
        meeting_id: "ID da reunião",
        passcode: "Senha",
        dial_in: "Discar por telefone",
        conference_id: "ID da conferência telefônica",
    },
    Phrases {
        tag: "ja",
        join: "Microsoft Teams 会議に参加",
        meeting_id: "会議 ID",
        passcode: "パスコード",
        dial_in: "電話でダイヤルイン",
        conference_id: "電話会議 ID",
    },
    Phrases {
        tag: "zh",
        join: "加入 Microsoft Teams 会议",
        meeting_id: "会议 ID",
        passcode: "密码",
        dial_in: "通过电话拨入",
        conference_id: "电话会议 ID",
    },
    Phrases {
        tag: "de",
        join: "An Microsoft Teams-Besprechung teilnehmen",
        meeting_id: "Besprechungs-ID",
        passcode: "Kennung",
        dial_in: "Per Telefon einwählen",
        conference_id: "Telefonkonferenz-ID",
    },
    Phrases {
        tag: "fr",
        join: "Rejoindre la réunion Microsoft Teams",
        meeting_id: "ID de réunion",
        passcode: "Code secret",
        dial_in: "Appeler par téléphone",
        conference_id: "ID de conférence téléphonique",
    },
    Phrases {
        tag: "es",
        join: "Unirse a la reunión de Microsoft Teams",
        meeting_id: "Id. de reunión",
        passcode: "Código de acceso",
        dial_in: "Marcar por teléfono",
        conference_id: "Id. de conferencia telefónica",
    },
];

/// The phrases for an `Accept-Language` value: the known language with the highest weight
/// (`q`), the earliest on a tie; English when none is known.
fn pick(accept_language: Option<&str>) -> &'static Phrases {
    let mut best: Option<(&'static Phrases, f32)> = None;
    for item in accept_language.unwrap_or("").split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        let weight = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .filter(|q| q.is_finite())
            .unwrap_or(1.0);
        let Some(phrases) = LANGUAGES
            .iter()
            .find(|p| p.tag.eq_ignore_ascii_case(primary))
        else {
            continue;
        };
        if weight > 0.0 && best.is_none_or(|(_, w)| weight > w) {
            best = Some((phrases, weight));
        }
    }
    best.map_or(&LANGUAGES[0], |(p, _)| p)
}

/// The `joinInformation` of `meeting` (its join URL, meeting ID, passcode and dial-in) in the
/// language `accept_language` asks for.
pub(super) fn render(meeting: &Value, accept_language: Option<&str>) -> Value {
    let phrases = pick(accept_language);
    let text = |pointer: &str| meeting.pointer(pointer).and_then(Value::as_str);
    let mut html = format!(
        r#"<div style="width:100%"><div lang="{}"><a href="{}">{}</a></div>"#,
        phrases.tag,
        escape(text("/joinWebUrl").unwrap_or("")),
        escape(phrases.join),
    );
    if let Some(id) = text("/joinMeetingIdSettings/joinMeetingId") {
        html += &format!("<div>{}: {}</div>", escape(phrases.meeting_id), escape(id));
    }
    if let Some(code) = text("/joinMeetingIdSettings/passcode") {
        html += &format!("<div>{}: {}</div>", escape(phrases.passcode), escape(code));
    }
    if let Some(number) = text("/audioConferencing/tollNumber") {
        html += &format!("<div>{}: {}</div>", escape(phrases.dial_in), escape(number));
    }
    if let Some(id) = text("/audioConferencing/conferenceId") {
        html += &format!(
            "<div>{}: {}</div>",
            escape(phrases.conference_id),
            escape(id)
        );
    }
    html += "</div>";
    let encoded: String = url::form_urlencoded::byte_serialize(html.as_bytes()).collect();
    json!({
        "content": format!("data:text/html,{encoded}"),
        "contentType": "html",
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn language(accept_language: Option<&str>) -> &'static str {
        pick(accept_language).tag
    }

    #[test]
    fn the_best_known_language_wins_and_english_is_the_default() {
        assert_eq!(language(None), "en");
        assert_eq!(language(Some("pt-BR")), "pt");
        assert_eq!(language(Some("ja-JP,en;q=0.5")), "ja");
        assert_eq!(language(Some("en;q=0.4, zh-Hans;q=0.9")), "zh");
        assert_eq!(language(Some("xx-YY, pt;q=0.1")), "pt");
        assert_eq!(language(Some("tlh")), "en");
        assert_eq!(language(Some("ja;q=0, de")), "de");
        assert_eq!(language(Some(";;,,q=x;")), "en");
    }

    #[test]
    fn the_invitation_is_a_data_url_in_the_language() {
        let meeting = json!({
            "joinWebUrl": "https://teams.example/l/x?a=1&b=\"2\"",
            "joinMeetingIdSettings": {"joinMeetingId": "123", "passcode": "pw"},
        });
        let info = render(&meeting, Some("pt-PT"));
        let content = info["content"].as_str().unwrap();
        assert!(content.starts_with("data:text/html,"));
        let html: String = url::form_urlencoded::parse(
            format!("x={}", &content["data:text/html,".len()..]).as_bytes(),
        )
        .map(|(_, v)| v.into_owned())
        .collect();
        assert!(
            html.contains("Participar da reunião do Microsoft Teams"),
            "{html}"
        );
        assert!(html.contains("Senha: pw"));
        assert!(html.contains("&amp;b=&quot;2&quot;"));
        assert_eq!(info["contentType"], "html");
    }
}
