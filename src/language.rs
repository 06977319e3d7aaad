//! The languages the product writes to users in, and how one is chosen: the caller's choice
//! (`LanguageOverride`), else the user's usage location. Pure.

/// The languages the mail is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    English,
    German,
}

impl Language {
    /// Reads `en`, `de`, a tag such as `de-AT`, or the language's name in English or German.
    pub fn parse(value: &str) -> Option<Language> {
        let value = value.trim().to_ascii_lowercase();
        let primary = value.split(['-', '_']).next().unwrap_or_default();
        match primary {
            "en" | "english" | "englisch" => Some(Language::English),
            "de" | "german" | "deutsch" => Some(Language::German),
            _ => None,
        }
    }

    /// Chooses German for users working where German is the (or a) main language, else
    /// English.
    pub fn for_usage_location(location: Option<&str>) -> Language {
        match location.map(|location| location.trim().to_ascii_uppercase()) {
            Some(location) if matches!(location.as_str(), "DE" | "AT" | "CH" | "LI") => {
                Language::German
            }
            _ => Language::English,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::German => "de",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_from_codes_tags_and_names() {
        for (value, expected) in [
            ("en", Some(Language::English)),
            ("DE", Some(Language::German)),
            ("de-AT", Some(Language::German)),
            ("Deutsch", Some(Language::German)),
            ("english", Some(Language::English)),
            ("fr", None),
            ("", None),
        ] {
            assert_eq!(Language::parse(value), expected, "{value}");
        }
    }

    #[test]
    fn german_speaking_usage_locations_get_german() {
        assert_eq!(Language::for_usage_location(Some("at")), Language::German);
        assert_eq!(Language::for_usage_location(Some("US")), Language::English);
        assert_eq!(Language::for_usage_location(None), Language::English);
    }
}
