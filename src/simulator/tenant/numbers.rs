//! Phone numbers as Graph stores them: the accepted formats and the normalised form.

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

/// The digits that identify a number (extension excluded).
pub fn digits(number: &str) -> String {
    number
        .split('x')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}
