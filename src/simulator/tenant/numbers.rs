//! Reads phone numbers as Graph stores them: the accepted formats and the normalised form.

/// Normalises a number to Graph's stored form, or `None` when Graph would reject its format.
/// Graph accepts `+{cc} {number}x{ext}` and, in practice, E.164 without the space.
pub fn normalise(number: &str) -> Option<String> {
    let (main, extension) = match number.split_once('x') {
        Some((main, extension)) => (main, Some(extension)),
        None => (number, None),
    };
    if let Some(extension) = extension
        && (extension.is_empty() || !extension.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let rest = main.strip_prefix('+')?;
    let main = match rest.split_once(' ') {
        Some((code, national))
            if (1..=3).contains(&code.len())
                && code.chars().all(|c| c.is_ascii_digit())
                && !national.is_empty()
                && national.chars().all(|c| c.is_ascii_digit()) =>
        {
            format!("+{code} {national}")
        }
        Some(_) => return None,
        None => {
            if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let parsed = phonenumber::parse(None, main).ok()?;
            let national = parsed.national();
            format!(
                "+{} {}{}",
                parsed.code().value(),
                "0".repeat(usize::from(national.zeros())),
                national.value()
            )
        }
    };
    Some(match extension {
        Some(extension) => format!("{main}x{extension}"),
        None => main,
    })
}

/// Finds the digits that identify a number (extension excluded): as Graph's own form writes
/// them, or as the numbering plan reads an older notation (`+49 (0)170 …`, whose trunk prefix
/// is not part of the number).
pub fn digits(number: &str) -> String {
    let main = number.split(['x', 'X']).next().unwrap_or_default().trim();
    let raw: String = main.chars().filter(char::is_ascii_digit).collect();
    let graph_form = main
        .strip_prefix('+')
        .is_some_and(|rest| match rest.split_once(' ') {
            None => rest.chars().all(|c| c.is_ascii_digit()),
            Some((code, national)) => {
                code.chars().all(|c| c.is_ascii_digit())
                    && national.chars().all(|c| c.is_ascii_digit())
                    && !national.starts_with('0')
            }
        });
    if graph_form {
        return raw;
    }
    match phonenumber::parse(None, main) {
        Ok(parsed) => {
            let national = parsed.national();
            format!(
                "{}{}{}",
                parsed.code().value(),
                "0".repeat(usize::from(national.zeros())),
                national.value()
            )
        }
        Err(_) => raw,
    }
}
