//! Tests of phone numbers: parsing by the numbering plan, Graph's format, matching and masking.

use super::*;

#[track_caller]
fn check_valid(input: &str, graph_format: &str) {
    let number = PhoneNumber::parse(input).unwrap_or_else(|error| panic!("{input}: {error}"));
    assert_eq!(number.graph_format(), graph_format, "{input}");
}

#[track_caller]
fn check_invalid(input: &str, reason_contains: &str) {
    match PhoneNumber::parse(input) {
        Ok(number) => panic!("{input} was accepted as {}", number.graph_format()),
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains(reason_contains),
                "{input}: expected {reason_contains:?} in {message:?}"
            );
        }
    }
}

#[test]
fn international_forms_are_written_the_way_graph_wants() {
    check_valid("+491701234567", "+49 1701234567");
    check_valid("+49 170 1234567", "+49 1701234567");
    check_valid("  +49 (170) 123-4567 ", "+49 1701234567");
    check_valid("+1 206 555 0100", "+1 2065550100");
    check_valid("+44 20 7946 0958", "+44 2079460958");
    check_valid("+39 06 6982 1234", "+39 0669821234");
    check_valid("+49 30 12345678 x123", "+49 3012345678x123");
    check_valid("+49 30 12345678 ext. 45", "+49 3012345678x45");
}

#[test]
fn numbers_that_are_not_valid_are_rejected_with_the_reason() {
    check_invalid("", "empty");
    check_invalid("01701234567", "no country code");
    check_invalid("00491701234567", "no country code");
    check_invalid("+4917012", "too short");
    check_invalid("+49 170 12345678901234", "too long");
    check_invalid("+999 1234567", "country calling code");
    check_invalid("+1 800 FLOWERS", "letters");
    check_invalid("+49 170 1234567 x", "extension");
    check_invalid("+49 170 1234567 xabc", "extension");
    check_invalid("+49\u{0}1701234567", "control character");
    check_invalid("+49 170 123;4567", "';'");
    check_invalid("+", "no digits");
    check_invalid("+1 555 555 1234", "not a valid phone number in US");
}

#[test]
fn error_messages_never_repeat_the_number() {
    for input in ["+4917012", "+49 170 12345678901234", "+1 555 555 1234"] {
        let message = PhoneNumber::parse(input).unwrap_err().to_string();
        let digits: String = input.chars().filter(char::is_ascii_digit).collect();
        assert!(!message.contains(&digits[2..]), "{message}");
    }
}

#[test]
fn numbers_match_what_graph_returns_by_digits() {
    let number = PhoneNumber::parse("+49 170 1234567").unwrap();
    assert!(number.matches(&RegisteredNumber::new("+49 1701234567")));
    assert!(number.matches(&RegisteredNumber::new("+491701234567")));
    assert!(!number.matches(&RegisteredNumber::new("+49 1701234568")));
    assert!(!number.matches(&RegisteredNumber::new("+49 1701234567x1")));
    let office = PhoneNumber::parse("+49 30 12345678 x123").unwrap();
    assert!(office.matches(&RegisteredNumber::new("+49 3012345678x123")));
    assert!(!office.matches(&RegisteredNumber::new("+49 3012345678")));
}

#[test]
fn numbers_match_in_every_notation_graph_stores_them() {
    // (requested, registered as Graph returns it, same number?, how it is written)
    let table = [
        ("+49 170 1234567", "+49 1701234567", true, Notation::Graph),
        ("+49 170 1234567", "+491701234567", true, Notation::Graph),
        (
            "+49 170 1234567",
            "+49 (0)170 1234567",
            true,
            Notation::Older,
        ),
        ("+49 170 1234567", "+49 01701234567", true, Notation::Older),
        (
            "+49 170 1234567",
            "+49 (0) 170-123 45 67",
            true,
            Notation::Older,
        ),
        (
            "+44 7911 123456",
            "+44 (0)7911 123456",
            true,
            Notation::Older,
        ),
        ("+44 7911 123456", "+44 07911123456", true, Notation::Older),
        (
            "+1 425 555 0100",
            "+1 (425) 555-0100",
            true,
            Notation::Older,
        ),
        ("+39 06 6982 1234", "+39 0669821234", true, Notation::Older),
        ("+39 06 6982 1234", "+39 669821234", false, Notation::Graph),
        (
            "+49 170 1234567",
            "+49 (0)170 1234568",
            false,
            Notation::Older,
        ),
        ("+49 170 1234567", "+44 1701234567", false, Notation::Graph),
        (
            "+49 170 1234567",
            "49 170 1234567",
            true,
            Notation::Unreadable,
        ),
        (
            "+49 170 1234567",
            "0170 1234567",
            false,
            Notation::Unreadable,
        ),
        (
            "+49 30 12345678 x12",
            "+49 (0)30 12345678x12",
            true,
            Notation::Older,
        ),
        (
            "+49 30 12345678 x12",
            "+49 (0)30 12345678x13",
            false,
            Notation::Older,
        ),
    ];
    for (requested, registered, same, notation) in table {
        let number = PhoneNumber::parse(requested).unwrap();
        let registered = RegisteredNumber::new(registered);
        assert_eq!(
            number.matches(&registered),
            same,
            "{requested} vs {registered:?}"
        );
        assert_eq!(registered.notation(), notation, "{registered:?}");
        if same && notation != Notation::Unreadable {
            assert_eq!(registered.digits(), number.digits(), "{registered:?}");
        }
    }
}

#[test]
fn line_kind_comes_from_the_numbering_plan() {
    let kind = |input| PhoneNumber::parse(input).unwrap().line_kind();
    assert_eq!(kind("+49 170 1234567"), LineKind::Mobile);
    assert_eq!(kind("+49 30 12345678"), LineKind::FixedLine);
    assert_eq!(kind("+1 206 555 0100"), LineKind::FixedLineOrMobile);
}

#[test]
fn display_debug_and_mask_hide_all_but_country_code_and_last_two_digits() {
    let number = PhoneNumber::parse("+49 170 1234567").unwrap();
    assert_eq!(number.to_string(), "+49 ********67");
    assert_eq!(format!("{number:?}"), "PhoneNumber(\"+49 ********67\")");
    assert_eq!(mask("+1 2065555555"), "+1 ********55");
    assert_eq!(mask("+12065555555"), "+*********55");
    assert_eq!(mask("+1 5555551234x123"), "+1 ********34");
    assert_eq!(mask(""), "+*");
    assert_eq!(mask("+ab 1"), "+*1");
    assert_eq!(mask("+1 "), "+*1");
}

#[test]
fn phone_types_parse_case_insensitively_and_know_their_method_ids() {
    assert_eq!(PhoneType::parse("Mobile"), Some(PhoneType::Mobile));
    assert_eq!(
        PhoneType::parse("alternatemobile"),
        Some(PhoneType::AlternateMobile)
    );
    assert_eq!(PhoneType::parse(" OFFICE "), Some(PhoneType::Office));
    assert_eq!(PhoneType::parse("landline"), None);
    assert_eq!(
        PhoneType::Mobile.method_id(),
        "3179e48a-750b-4051-897c-87b9720928f7"
    );
}

#[test]
fn numbers_inside_free_text_are_redacted() {
    assert_eq!(
        redact_numbers("Invalid phone number +49 1701234567 for user"),
        "Invalid phone number +49 ********67 for user"
    );
    assert_eq!(redact_numbers("error 409 at 12:30"), "error 409 at 12:30");
    assert_eq!(redact_numbers("id 12345678."), "id +******78.");
    assert_eq!(
        redact_numbers("ticket for +49/170/7654321"),
        "ticket for +49 ********21"
    );
    assert_eq!(
        redact_numbers("call +49.170.765.43.21 or +44 (0)7911 123456!"),
        "call +49 ********21 or +44 *********56!"
    );
}

#[test]
fn object_ids_are_not_numbers_and_text_becomes_one_printable_line() {
    let id = "6e7b768e-07e2-4810-8459-485f84f8f204";
    assert_eq!(
        redact_numbers(&format!("object id {id}, call +49 1701234567")),
        format!("object id {id}, call +49 ********67")
    );
    // This is not a whole GUID: digits glued to more letters are masked as before.
    let glued = "x6e7b768e-07e2-4810-8459-485f84f8f204";
    assert_ne!(redact_numbers(glued), glued);
    assert_eq!(
        printable("Adele\n+49 170 1234567\r\nInjected", 100),
        "Adele +49 ********67  Injected"
    );
    assert_eq!(printable("abcdef", 3), "abc…");
}

proptest::proptest! {
    /// Whatever separators a number is written with, in whatever text around it, nothing of it
    /// survives redaction but the country code and the last two digits.
    #[test]
    fn redaction_leaves_only_the_country_code_and_the_last_two_digits(
        country_code in "[1-9][0-9]{0,2}",
        national in proptest::collection::vec(0u8..10, 6..12),
        after_code in proptest::sample::select(vec![" ", "-", "/", ".", "(", " (0)", "(0)", " 0"]),
        separators in proptest::collection::vec(
            proptest::sample::select(vec!["", " ", "-", "/", ".", "(", ")", ") ", " - "]),
            12,
        ),
        before in "[a-z :,]{0,12}",
        after in "[a-z :,!?]{0,12}",
    ) {
        let mut written = format!("+{country_code}{after_code}");
        for (index, digit) in national.iter().enumerate() {
            written.push(char::from(b'0' + digit));
            if index + 1 < national.len() {
                written.push_str(separators[(index + 1) % separators.len()]);
            }
        }
        let text = format!("{before}{written}{after}");
        let redacted = redact_numbers(&text);
        let digits: String = redacted.chars().filter(char::is_ascii_digit).collect();
        let last_two: String = national[national.len() - 2..]
            .iter()
            .map(|digit| char::from(b'0' + digit))
            .collect();
        proptest::prop_assert!(
            digits == last_two || digits == format!("{country_code}{last_two}"),
            "{text:?} became {redacted:?}"
        );
    }
}

proptest::proptest! {
    /// Numbers written with any separator people type (Unicode dashes, no-break and thin
    /// spaces, `_`, `,`, full-width forms) and in full-width or ASCII digits, inside any text:
    /// no more than the country code and the last two digits survive.
    #[test]
    fn redaction_finds_numbers_written_with_any_separator_or_digit_form(
        country_code in "[1-9][0-9]{0,2}",
        national in proptest::collection::vec(0u32..10, 6..12),
        full_width in proptest::collection::vec(proptest::bool::ANY, 12),
        separators in proptest::collection::vec(
            proptest::sample::select(vec![
                "", " ", "-", "_", ",", ".", "/", "(", ")",
                "\u{00A0}", "\u{202F}", "\u{2009}", "\u{2007}", "\u{3000}",
                "\u{2010}", "\u{2011}", "\u{2012}", "\u{2013}", "\u{2014}", "\u{2212}",
                "\u{FF0D}", "\u{FE63}", "\u{00AD}", "\u{200B}", "\u{FF3F}", "\u{FF0C}",
                " \u{2013} ", "\u{00A0}(",
            ]),
            12,
        ),
        plus in proptest::sample::select(vec!["+", "\u{FF0B}", ""]),
        before in "[a-z :]{0,12}",
        after in "[a-z :!?]{0,12}",
    ) {
        let written_digit = |index: usize, value: u32| {
            let zero = if full_width[index % full_width.len()] { 0xFF10 } else { u32::from('0') };
            char::from_u32(zero + value).unwrap()
        };
        let mut written = format!("{plus}{country_code}{}", separators[0]);
        for (index, value) in national.iter().enumerate() {
            written.push(written_digit(index, *value));
            if index + 1 < national.len() {
                written.push_str(separators[(index + 1) % separators.len()]);
            }
        }
        let text = format!("{before} {written} {after}");
        let redacted = redact_numbers(&text);
        let digits: String = redacted
            .chars()
            .filter_map(|c| match c {
                '0'..='9' => Some(c),
                '\u{FF10}'..='\u{FF19}' => char::from_u32(u32::from(c) - 0xFF10 + u32::from('0')),
                _ => None,
            })
            .collect();
        let kept = national.len().min(2);
        let last_two: String = national[national.len() - kept..]
            .iter()
            .map(|value| char::from_digit(*value, 10).unwrap())
            .collect();
        proptest::prop_assert!(
            // Only what a country code can be survives (three digits at most; a first group of
            // three or fewer written right after the `+` reads as one), and the last two.
            digits.len() <= 5 && digits.ends_with(&last_two),
            "{text:?} became {redacted:?}"
        );
    }
}

#[test]
fn masking_reads_full_width_digits_and_unicode_separators() {
    assert_eq!(mask("+49\u{00A0}170\u{2011}1234567"), "+49 ********67");
    assert_eq!(
        mask(
            "\u{FF0B}\u{FF14}\u{FF19} \u{FF11}\u{FF17}\u{FF10}\u{FF11}\u{FF12}\u{FF13}\u{FF14}\u{FF15}\u{FF16}\u{FF17}"
        ),
        "+49 ********67"
    );
    assert_eq!(
        redact_numbers("call 0170_123_45_67, thanks"),
        "call +*********67, thanks"
    );
}
