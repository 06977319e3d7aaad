//! Masks numbers in anything a person reads: log lines, messages, the mail. Only the country
//! code and the last two digits survive.

use super::split_graph_number;

/// Masks a phone number written in any of the forms Graph or a caller uses: keeps the country
/// code when the number is written `+cc` and a separator (`+49 170…`, `+49/170…`,
/// `+49(0)170…`), and the last two digits; every other digit becomes `*`. Digits of an
/// extension are masked too.
pub fn mask(number: &str) -> String {
    let (main, _) = split_graph_number(number);
    let main = main.trim();
    let digits: Vec<char> = main.chars().filter_map(digit).collect();
    let country_code: String = match main.strip_prefix(['+', '\u{FF0B}']) {
        Some(rest) => match rest.split_once(is_separator) {
            Some((code, _))
                if !code.is_empty()
                    && code.chars().count() <= 3
                    && code.chars().all(|c| digit(c).is_some()) =>
            {
                code.chars().filter_map(digit).collect()
            }
            _ => String::new(),
        },
        None => String::new(),
    };
    let code_len = country_code.chars().count();
    let kept_tail = 2.min(digits.len().saturating_sub(code_len));
    let hidden = digits
        .len()
        .saturating_sub(code_len)
        .saturating_sub(kept_tail);
    let tail: String = digits[digits.len() - kept_tail..].iter().collect();
    let stars = "*".repeat(hidden.max(1));
    if country_code.is_empty() {
        format!("+{stars}{tail}")
    } else {
        format!("+{country_code} {stars}{tail}")
    }
}

/// Reads a decimal digit as people type it (ASCII, full-width, Arabic-Indic) as an ASCII digit.
fn digit(character: char) -> Option<char> {
    let from = |zero: char| char::from_u32(u32::from(character) - u32::from(zero) + u32::from('0'));
    match character {
        '0'..='9' => Some(character),
        '\u{FF10}'..='\u{FF19}' => from('\u{FF10}'),
        '\u{0660}'..='\u{0669}' => from('\u{0660}'),
        '\u{06F0}'..='\u{06F9}' => from('\u{06F0}'),
        _ => None,
    }
}

/// What people write between the digits of a phone number: spaces of every width (no-break and
/// thin ones too), dashes of every kind, slashes, dots, brackets, `_` and `,`, in ASCII or
/// full-width, and the invisible joiners a copy and paste brings along.
fn is_separator(character: char) -> bool {
    character.is_whitespace()
        || matches!(
            character,
            '-' | '/'
                | '.'
                | '('
                | ')'
                | '_'
                | ','
                | '\u{00AD}'
                | '\u{2010}'..='\u{2015}'
                | '\u{2212}'
                | '\u{FE58}'
                | '\u{FE63}'
                | '\u{FF0D}'
                | '\u{FF0F}'
                | '\u{FF0E}'
                | '\u{FF08}'
                | '\u{FF09}'
                | '\u{FF3F}'
                | '\u{FF0C}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'
                | '\u{FEFF}'
        )
}

/// Masks every phone-number-like run (six or more digits, possibly with a leading + and any of
/// the separators people write, [`is_separator`]) in free text such as
/// a Graph error message or a caller's name, so it can go into logs and results. Object ids
/// (GUIDs) are not numbers and stay as they are.
pub fn redact_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = run.chars().filter_map(digit).count();
        if digits >= 6 {
            let trailing: String = run
                .chars()
                .rev()
                .take_while(|c| digit(*c).is_none())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            out.push_str(&mask(run.trim_end_matches(|c: char| digit(c).is_none())));
            out.push_str(&trailing);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    let mut rest = text;
    let mut previous: Option<char> = None;
    while let Some(character) = rest.chars().next() {
        if run.is_empty()
            && !previous.is_some_and(|c| c.is_ascii_alphanumeric())
            && let Some(guid) = leading_guid(rest)
        {
            out.push_str(guid);
            rest = &rest[guid.len()..];
            previous = guid.chars().last();
            continue;
        }
        let starts = digit(character).is_some() || matches!(character, '+' | '\u{FF0B}');
        let continues = starts || is_separator(character);
        if (run.is_empty() && starts) || (!run.is_empty() && continues) {
            run.push(character);
        } else {
            flush(&mut run, &mut out);
            out.push(character);
        }
        rest = &rest[character.len_utf8()..];
        previous = Some(character);
    }
    flush(&mut run, &mut out);
    out
}

/// Makes text from outside (Graph's names and error texts, a caller's words) fit for a log
/// line: control characters (line breaks among them) become spaces, at most `max_chars`
/// characters are kept, and phone numbers are masked.
pub fn printable(text: &str, max_chars: usize) -> String {
    let mut kept: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if text.chars().nth(max_chars).is_some() {
        kept.push('…');
    }
    redact_numbers(&kept)
}

/// Finds the GUID `text` starts with (`8-4-4-4-12` hex digits) when it is a whole token, not
/// followed by another letter or digit.
fn leading_guid(text: &str) -> Option<&str> {
    let candidate = text.get(..36)?;
    let shaped = candidate.char_indices().all(|(index, c)| match index {
        8 | 13 | 18 | 23 => c == '-',
        _ => c.is_ascii_hexdigit(),
    });
    let whole = !text[36..]
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    (shaped && whole).then_some(candidate)
}
