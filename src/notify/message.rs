//! Writes the notification mail's words: it composes the subject and HTML body from the facts
//! of a change ([`compose`]), filling fixed texts in one pass and escaping every inserted
//! value. Pure: no IO, and nothing here knows how the mail is sent.

use std::fmt::Write as _;

use crate::language::Language;
use crate::phone::{PhoneNumber, PhoneType};
use crate::report::Action;

/// Whom the user should contact when they did not expect the change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceDesk {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// What happened to the user's phone method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Updated,
    Removed,
}

impl Change {
    /// Reads the change a report's action announces, if any.
    pub fn of(action: Action) -> Option<Change> {
        match action {
            Action::Added => Some(Change::Added),
            Action::Updated => Some(Change::Updated),
            Action::Removed => Some(Change::Removed),
            Action::Unchanged | Action::NotPresent | Action::None => None,
        }
    }
}

/// Everything the message says, as plain (unescaped) text.
pub struct Facts<'a> {
    pub language: Language,
    pub change: Change,
    pub phone_type: PhoneType,
    pub number: &'a PhoneNumber,
    pub display_name: Option<&'a str>,
    pub user_principal_name: Option<&'a str>,
    pub organization: Option<&'a str>,
    pub service_desk: &'a ServiceDesk,
}

/// Composes the subject and HTML body of the mail. Every value that comes from the directory or
/// the configuration is HTML-escaped; the number appears only masked.
pub fn compose(facts: &Facts<'_>) -> (String, String) {
    let words = Words::of(facts.language);
    let phone = match facts.phone_type {
        PhoneType::Mobile => &words.mobile,
        PhoneType::AlternateMobile => &words.alternate_mobile,
        PhoneType::Office => &words.office,
    };
    let subject = match facts.change {
        Change::Added => words.subject_added,
        Change::Updated => words.subject_updated,
        Change::Removed => words.subject_removed,
    };
    let subject = capitalise(&fill(
        subject,
        &[("a", phone.indefinite), ("the", phone.definite)],
    ));
    let who = match facts.organization {
        Some(organization) => fill(words.team_of, &[("org", &escape(organization))]),
        None => words.team.to_owned(),
    };
    let account = match facts.user_principal_name {
        Some(name) => format!("{} <b>{}</b>", words.your_account, escape(name)),
        None => words.your_account.to_owned(),
    };
    let number = format!("<b>{}</b>", escape(&facts.number.masked()));
    let what = match facts.change {
        Change::Added => words.body_added,
        Change::Updated => words.body_updated,
        Change::Removed => words.body_removed,
    };
    let what = fill(
        what,
        &[
            ("who", &who),
            ("your", phone.possessive),
            ("account", &account),
            ("number", &number),
        ],
    );
    let desk = service_desk_html(facts.service_desk, &words);
    let mut html =
        String::from("<html><body style=\"font-family:Segoe UI,Arial,sans-serif;font-size:11pt\">");
    let greeting = match facts.display_name {
        Some(name) => fill(words.hello_name, &[("name", &escape(name))]),
        None => words.hello.to_owned(),
    };
    let _ = write!(
        html,
        "<p>{greeting}</p><p>{}</p><p>{}</p><p>{}</p>",
        capitalise(&what),
        words.masked_note,
        fill(words.not_you, &[("desk", &desk)])
    );
    if let Some(organization) = facts.organization {
        let _ = write!(
            html,
            "<p style=\"color:#666666\">{}</p>",
            escape(organization)
        );
    }
    html.push_str("</body></html>");
    (subject, html)
}

/// Fills the `{name}` places of a fixed text in one pass: text that was filled in is never
/// read for places again, so a directory value such as `ACME {number}` stays as it is.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn service_desk_html(desk: &ServiceDesk, words: &Words) -> String {
    let mut parts = Vec::new();
    if let Some(name) = &desk.name {
        parts.push(escape(name));
    }
    if let Some(email) = &desk.email {
        parts.push(format!(
            "<a href=\"mailto:{0}\">{0}</a>",
            escape(email.trim())
        ));
    }
    if let Some(phone) = &desk.phone {
        parts.push(escape(phone));
    }
    if parts.is_empty() {
        words.desk_fallback.to_owned()
    } else {
        parts.join(", ")
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn capitalise(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// A phone type in the phrases the message needs.
struct PhoneWords {
    indefinite: &'static str,
    definite: &'static str,
    possessive: &'static str,
}

/// The message's fixed text in one language; `{…}` marks what is filled in.
struct Words {
    mobile: PhoneWords,
    alternate_mobile: PhoneWords,
    office: PhoneWords,
    subject_added: &'static str,
    subject_updated: &'static str,
    subject_removed: &'static str,
    hello: &'static str,
    hello_name: &'static str,
    team: &'static str,
    team_of: &'static str,
    /// "your account", in the case the body's sentences need.
    your_account: &'static str,
    body_added: &'static str,
    body_updated: &'static str,
    body_removed: &'static str,
    masked_note: &'static str,
    not_you: &'static str,
    desk_fallback: &'static str,
}

impl Words {
    fn of(language: Language) -> Words {
        match language {
            Language::English => Words {
                mobile: PhoneWords {
                    indefinite: "a mobile phone",
                    definite: "the mobile phone",
                    possessive: "your mobile phone",
                },
                alternate_mobile: PhoneWords {
                    indefinite: "an alternate mobile phone",
                    definite: "the alternate mobile phone",
                    possessive: "your alternate mobile phone",
                },
                office: PhoneWords {
                    indefinite: "an office phone",
                    definite: "the office phone",
                    possessive: "your office phone",
                },
                subject_added: "{a} was added to your sign-in methods",
                subject_updated: "{the} of your sign-in methods was changed",
                subject_removed: "{a} was removed from your sign-in methods",
                hello: "Hello,",
                hello_name: "Hello {name},",
                team: "your IT team",
                team_of: "the IT team of {org}",
                your_account: "your account",
                body_added: "{who} has added the number {number} as {your} for multi-factor \
                             authentication (verification by call or text message) to {account}.",
                body_updated: "{who} has changed {your} for multi-factor authentication \
                               (verification by call or text message) of {account} to the \
                               number {number}.",
                body_removed: "{who} has removed the number {number}, {your} for multi-factor \
                               authentication, from {account}.",
                masked_note: "For your privacy the number is shown shortened.",
                not_you: "If you did not ask for this change, contact {desk} at once.",
                desk_fallback: "your IT service desk",
            },
            Language::German => Words {
                mobile: PhoneWords {
                    indefinite: "ein Mobiltelefon",
                    definite: "das Mobiltelefon",
                    possessive: "Ihr Mobiltelefon",
                },
                alternate_mobile: PhoneWords {
                    indefinite: "ein alternatives Mobiltelefon",
                    definite: "das alternative Mobiltelefon",
                    possessive: "Ihr alternatives Mobiltelefon",
                },
                office: PhoneWords {
                    indefinite: "ein Bürotelefon",
                    definite: "das Bürotelefon",
                    possessive: "Ihr Bürotelefon",
                },
                subject_added: "{a} wurde Ihren Anmeldemethoden hinzugefügt",
                subject_updated: "{the} Ihrer Anmeldemethoden wurde geändert",
                subject_removed: "{a} wurde aus Ihren Anmeldemethoden entfernt",
                hello: "Guten Tag,",
                hello_name: "Guten Tag {name},",
                team: "Ihr IT-Team",
                team_of: "das IT-Team von {org}",
                your_account: "Ihrem Konto",
                body_added: "{who} hat die Nummer {number} als {your} für die \
                             Multi-Faktor-Authentifizierung (Bestätigung per Anruf oder SMS) zu \
                             {account} hinzugefügt.",
                body_updated: "{who} hat {your} für die Multi-Faktor-Authentifizierung \
                               (Bestätigung per Anruf oder SMS) in {account} auf die Nummer \
                               {number} geändert.",
                body_removed: "{who} hat die Nummer {number}, {your} für die \
                               Multi-Faktor-Authentifizierung, aus {account} entfernt.",
                masked_note: "Zum Schutz Ihrer Daten wird die Nummer gekürzt angezeigt.",
                not_you: "Falls Sie diese Änderung nicht veranlasst haben, wenden Sie sich bitte \
                          umgehend an {desk}.",
                desk_fallback: "Ihren IT-Service-Desk",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number() -> PhoneNumber {
        PhoneNumber::parse("+49 170 1234567").unwrap()
    }

    fn facts<'a>(number: &'a PhoneNumber, desk: &'a ServiceDesk) -> Facts<'a> {
        Facts {
            language: Language::English,
            change: Change::Added,
            phone_type: PhoneType::Mobile,
            number,
            display_name: Some("Adele Vance"),
            user_principal_name: Some("adele@contoso.example"),
            organization: Some("Contoso"),
            service_desk: desk,
        }
    }

    #[test]
    fn the_mail_names_the_change_with_the_number_masked() {
        let number = number();
        let desk = ServiceDesk {
            name: Some("Contoso Service Desk".to_owned()),
            email: Some("help@contoso.example".to_owned()),
            phone: None,
        };
        let (subject, html) = compose(&facts(&number, &desk));
        assert_eq!(subject, "A mobile phone was added to your sign-in methods");
        assert!(html.contains("Hello Adele Vance,"), "{html}");
        assert!(html.contains(&number.masked()), "{html}");
        assert!(!html.contains("1234567"), "{html}");
        assert!(
            html.contains(
                "The IT team of Contoso has added the number <b>+49 ********67</b> as your \
                 mobile phone for multi-factor authentication (verification by call or text \
                 message) to your account <b>adele@contoso.example</b>."
            ),
            "{html}"
        );
        assert!(
            html.contains("Contoso Service Desk, <a href=\"mailto:help@contoso.example\">"),
            "{html}"
        );
    }

    #[test]
    fn every_change_type_and_language_has_its_own_subject() {
        let number = number();
        let desk = ServiceDesk::default();
        let mut subjects = std::collections::HashSet::new();
        for language in [Language::English, Language::German] {
            for change in [Change::Added, Change::Updated, Change::Removed] {
                for phone_type in [
                    PhoneType::Mobile,
                    PhoneType::AlternateMobile,
                    PhoneType::Office,
                ] {
                    let (subject, html) = compose(&Facts {
                        language,
                        change,
                        phone_type,
                        ..facts(&number, &desk)
                    });
                    assert!(
                        !subject.contains('{') && !html.contains('{'),
                        "{subject} {html}"
                    );
                    assert!(subject.starts_with(char::is_uppercase), "{subject}");
                    subjects.insert(subject);
                }
            }
        }
        assert_eq!(subjects.len(), 18);
    }

    #[test]
    fn directory_and_configuration_values_are_escaped() {
        let number = number();
        let desk = ServiceDesk {
            name: Some("<script>alert(1)</script>".to_owned()),
            email: Some("a\"onmouseover=\"x@example.com".to_owned()),
            phone: None,
        };
        let (_, html) = compose(&Facts {
            display_name: Some("<img src=x onerror=alert(1)>"),
            organization: Some("Fabrikam & Co"),
            ..facts(&number, &desk)
        });
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
        assert!(!html.contains("\"onmouseover"), "{html}");
        assert_eq!(html.matches("Fabrikam &amp; Co").count(), 2, "{html}");
        assert!(!html.contains("Fabrikam & Co"), "{html}");
    }

    #[test]
    fn every_inserted_value_is_escaped() {
        let number = number();
        let desk = ServiceDesk {
            name: Some("Desk <b>".to_owned()),
            email: Some("desk@example.com".to_owned()),
            phone: Some("<i>+49 30 1</i>".to_owned()),
        };
        let (_, html) = compose(&Facts {
            user_principal_name: Some("o'neil<x>@contoso.example"),
            ..facts(&number, &desk)
        });
        for raw in ["Desk <b>", "<i>", "o'neil<x>"] {
            assert!(!html.contains(raw), "{raw} in {html}");
        }
        assert!(
            html.contains("o&#39;neil&lt;x&gt;@contoso.example"),
            "{html}"
        );
        assert!(html.contains("&lt;i&gt;+49 30 1&lt;/i&gt;"), "{html}");
    }

    #[test]
    fn directory_text_that_looks_like_a_place_stays_text() {
        let number = number();
        let desk = ServiceDesk::default();
        let (_, html) = compose(&Facts {
            organization: Some("ACME {account} {number}"),
            display_name: Some("{desk}"),
            ..facts(&number, &desk)
        });
        assert!(
            html.contains("The IT team of ACME {account} {number} has added"),
            "{html}"
        );
        assert!(html.contains("Hello {desk},"), "{html}");
        assert_eq!(html.matches(&number.masked()).count(), 1, "{html}");
    }

    #[test]
    fn filling_leaves_unknown_and_unclosed_braces_alone() {
        assert_eq!(fill("{a}{b} {c", &[("a", "{b}"), ("b", "x")]), "{b}x {c");
        assert_eq!(fill("no places", &[("a", "1")]), "no places");
        assert_eq!(fill("}{", &[]), "}{");
    }

    #[test]
    fn without_names_the_mail_still_reads() {
        let number = number();
        let desk = ServiceDesk::default();
        let (_, html) = compose(&Facts {
            language: Language::German,
            display_name: None,
            user_principal_name: None,
            organization: None,
            ..facts(&number, &desk)
        });
        assert!(html.contains("<p>Guten Tag,</p>"), "{html}");
        assert!(html.contains("Ihr IT-Team hat"), "{html}");
        assert!(html.contains("an Ihren IT-Service-Desk"), "{html}");
    }
}
