//! Phone numbers and phone method types, parsed once at the boundary.
//!
//! A [`PhoneNumber`] has been checked against the numbering plan (the `phonenumber` crate, a
//! port of libphonenumber), so the rest of the code cannot hold a number that is not valid in
//! its country. It knows how Graph wants the number written (`+{country code} {national}`,
//! `x{extension}` for office phones) and how to compare it with what Graph returns (by digits).
//!
//! This module never lets a full number escape into text meant for logs: `Display` and `Debug`
//! of a [`PhoneNumber`] print the masked form, and [`mask`] masks a number Graph returned.
//! Where a number must be named without being shown (`cleanup.csv`, a removal's
//! `numberFingerprint`), [`CleanupKey`] gives its keyed fingerprint: the readiness scan writes
//! it, `bulk` carries it, the handler checks it.

use std::fmt;

use phonenumber::metadata::DATABASE;

pub use self::fingerprint::CleanupKey;
pub use self::mask::{mask, printable, redact_numbers};
pub use self::registered::{Notation, PhoneMethod, RegisteredNumber, SmsSignInState};
use self::registered::{digits_of, read_by_plan};

mod fingerprint;
mod mask;
mod registered;

/// The three phone method types Graph has, each with a fixed method id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PhoneType {
    Mobile,
    AlternateMobile,
    Office,
}

impl PhoneType {
    /// Every type, in the order Graph's documentation lists them.
    pub(crate) const ALL: [PhoneType; 3] = [
        PhoneType::Mobile,
        PhoneType::AlternateMobile,
        PhoneType::Office,
    ];

    /// Parses Graph's name for the type, case-insensitively (callers write `Mobile` too).
    pub(crate) fn parse(value: &str) -> Option<PhoneType> {
        PhoneType::ALL
            .into_iter()
            .find(|phone_type| phone_type.as_str().eq_ignore_ascii_case(value.trim()))
    }

    /// Graph's name for the type (`mobile`, `alternateMobile`, `office`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PhoneType::Mobile => "mobile",
            PhoneType::AlternateMobile => "alternateMobile",
            PhoneType::Office => "office",
        }
    }

    /// The method id Graph uses for this type, the same for every user.
    pub(crate) fn method_id(self) -> &'static str {
        match self {
            PhoneType::Mobile => "3179e48a-750b-4051-897c-87b9720928f7",
            PhoneType::AlternateMobile => "b6332ec1-7057-4abe-9331-3d72feddfe41",
            PhoneType::Office => "e37fc753-ff3b-4958-9484-eaa9425c82bc",
        }
    }

    /// Whether the type is meant to reach a mobile phone (and so can receive texts).
    pub(crate) fn expects_mobile_number(self) -> bool {
        matches!(self, PhoneType::Mobile | PhoneType::AlternateMobile)
    }
}

impl fmt::Display for PhoneType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A phone number that is valid in its country by the numbering plan.
///
/// The fields are private: the only way to get one is [`PhoneNumber::parse`].
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    country_code: u16,
    /// The national significant number's digits, with any leading zeros the plan keeps.
    national: String,
    extension: Option<String>,
    /// ISO 3166 region the number belongs to, when the plan knows one.
    region: Option<String>,
    line: LineKind,
}

/// What the numbering plan says about the kind of line a number belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineKind {
    Mobile,
    FixedLine,
    /// The plan cannot tell (the North American plan, for one).
    FixedLineOrMobile,
    /// Toll-free, premium rate, VoIP, pager and the other special kinds.
    Other,
}

/// Why a phone number was rejected. The message never repeats the number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct PhoneNumberError {
    reason: String,
}

impl PhoneNumberError {
    fn new(reason: impl Into<String>) -> PhoneNumberError {
        PhoneNumberError {
            reason: reason.into(),
        }
    }
}

/// The most digits E.164 allows in a full number, country code included.
const E164_MAX_DIGITS: usize = 15;
/// The most digits we accept in an extension (Graph documents no limit; PBXs use up to 7).
const EXTENSION_MAX_DIGITS: usize = 10;

impl PhoneNumber {
    /// Parses a number written in international form: `+491701234567`, `+49 170 1234567`,
    /// `+1 (206) 555-5554`, optionally with an extension (`x123` or `ext. 123`).
    ///
    /// # Errors
    ///
    /// When the number has no country code, contains letters or other stray characters, is
    /// too short or too long, or is not a valid number in its country. The message says which.
    pub fn parse(input: &str) -> Result<PhoneNumber, PhoneNumberError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(PhoneNumberError::new("the number is empty"));
        }
        let (main, extension) = split_extension(input)?;
        check_characters(main)?;
        if !main.starts_with('+') {
            return Err(PhoneNumberError::new(
                "the number has no country code: write it in international format, starting \
                 with + and the country code (for example +49 170 1234567)",
            ));
        }
        let digit_count = main.chars().filter(char::is_ascii_digit).count();
        if digit_count > E164_MAX_DIGITS {
            return Err(PhoneNumberError::new(format!(
                "the number is too long: it has {digit_count} digits, and an international \
                 number has at most {E164_MAX_DIGITS}"
            )));
        }
        let parsed = phonenumber::parse(None, main).map_err(|error| parse_error(main, &error))?;
        let country_code = parsed.code().value();
        let national = national_digits(parsed.national());
        let metadata = parsed.metadata(&DATABASE);
        let region = parsed.country().id().map(|id| format!("{id:?}"));
        if !parsed.is_valid() {
            return Err(invalid_number_error(
                country_code,
                &national,
                region.as_deref(),
                metadata,
            ));
        }
        let line = match parsed.number_type(&DATABASE) {
            phonenumber::Type::Mobile => LineKind::Mobile,
            phonenumber::Type::FixedLine => LineKind::FixedLine,
            phonenumber::Type::FixedLineOrMobile => LineKind::FixedLineOrMobile,
            _ => LineKind::Other,
        };
        Ok(PhoneNumber {
            country_code,
            national,
            extension,
            region,
            line,
        })
    }

    /// Parses a number that may be written nationally (`0170 1234567`), reading such a number
    /// as one of `region` (an ISO 3166 code such as `DE`); an international one is read as
    /// [`PhoneNumber::parse`] reads it.
    ///
    /// # Errors
    ///
    /// When the region is unknown, or the number is not valid in it (the message says which).
    pub(crate) fn parse_in_region(
        input: &str,
        region: &str,
    ) -> Result<PhoneNumber, PhoneNumberError> {
        let trimmed = input.trim();
        if trimmed.starts_with('+') {
            return PhoneNumber::parse(trimmed);
        }
        let id = region
            .trim()
            .to_ascii_uppercase()
            .parse::<phonenumber::country::Id>()
            .map_err(|_| {
                PhoneNumberError::new(format!("{region} is not a region the numbering plan knows"))
            })?;
        let (main, extension) = split_extension(trimmed)?;
        check_characters(main)?;
        let parsed =
            phonenumber::parse(Some(id), main).map_err(|error| parse_error(main, &error))?;
        let international = format!(
            "+{} {}",
            parsed.code().value(),
            national_digits(parsed.national())
        );
        match extension {
            Some(extension) => PhoneNumber::parse(&format!("{international} x{extension}")),
            None => PhoneNumber::parse(&international),
        }
    }

    /// The number as Graph wants it: `+{country code} {national number}`, then `x{extension}`.
    pub(crate) fn graph_format(&self) -> String {
        match &self.extension {
            Some(extension) => format!("+{} {}x{}", self.country_code, self.national, extension),
            None => format!("+{} {}", self.country_code, self.national),
        }
    }

    /// Whether a registered number is this number. Numbers written by older tools, the portal
    /// or a directory sync read like `+49 (0)170 1234567` or `+49 01701234567`: such text is
    /// read by the numbering plan (a trunk prefix after the country code is not part of the
    /// number); text the plan cannot read is compared by its digits. Extensions must agree.
    pub fn matches(&self, registered: &RegisteredNumber) -> bool {
        let (main, extension) = split_graph_number(&registered.0);
        let extension_digits: String = extension
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if extension_digits != self.extension.as_deref().unwrap_or_default() {
            return false;
        }
        let digits = digits_of(main);
        let own = self.digits();
        if digits == own {
            return true;
        }
        // Only text that ends in our national number can be our number in another notation;
        // anything else is another number, without the cost of reading it by the plan.
        if !digits.ends_with(&self.national) {
            return false;
        }
        read_by_plan(main).is_some_and(|read| read == own)
    }

    /// The number's digits, country code first, without any extension: the identity of a
    /// number held for SMS sign-in.
    pub(crate) fn digits(&self) -> String {
        format!("{}{}", self.country_code, self.national)
    }

    /// The masked form used in every log line and message: country code and last two digits.
    pub fn masked(&self) -> String {
        mask(&self.graph_format())
    }

    pub(crate) fn has_extension(&self) -> bool {
        self.extension.is_some()
    }

    pub(crate) fn line_kind(&self) -> LineKind {
        self.line
    }

    /// The region the number belongs to (`DE`, `US`), when the plan knows one.
    pub(crate) fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PhoneNumber").field(&self.masked()).finish()
    }
}

/// Loads the numbering plan's metadata and compiles its patterns, so that the first request
/// does not pay for it.
pub(crate) fn warm_up() {
    let _ = PhoneNumber::parse("+49 170 1234567");
    let _ = PhoneNumber::parse("+1 206 555 0100");
}

/// Splits `+1 5555551234x123` (Graph's form) into the main number and the extension.
fn split_graph_number(number: &str) -> (&str, Option<&str>) {
    match number.find(['x', 'X']) {
        Some(index) => (&number[..index], Some(&number[index + 1..])),
        None => (number, None),
    }
}

/// Splits a caller's number into the main part and an extension given as `x123`, `ext123`,
/// `ext. 123` or `extension 123`.
fn split_extension(input: &str) -> Result<(&str, Option<String>), PhoneNumberError> {
    let lower = input.to_ascii_lowercase();
    let Some(index) = lower.find(|c: char| c.is_ascii_alphabetic()) else {
        return Ok((input, None));
    };
    let marker_and_rest = &lower[index..];
    let after_marker = ["extension", "ext.", "ext", "x"]
        .iter()
        .find_map(|marker| marker_and_rest.strip_prefix(marker));
    let Some(after_marker) = after_marker else {
        return Err(PhoneNumberError::new(
            "the number contains letters: write digits only, with an optional extension \
             as x123",
        ));
    };
    let extension = after_marker.trim();
    if extension.is_empty() || !extension.chars().all(|c| c.is_ascii_digit()) {
        return Err(PhoneNumberError::new(
            "the extension must be digits only, written as x123",
        ));
    }
    if extension.len() > EXTENSION_MAX_DIGITS {
        return Err(PhoneNumberError::new(format!(
            "the extension is too long: at most {EXTENSION_MAX_DIGITS} digits"
        )));
    }
    Ok((input[..index].trim_end(), Some(extension.to_owned())))
}

fn check_characters(main: &str) -> Result<(), PhoneNumberError> {
    for (position, character) in main.chars().enumerate() {
        let allowed = character.is_ascii_digit()
            || matches!(character, ' ' | '-' | '.' | '(' | ')' | '/')
            || (character == '+' && position == 0);
        if !allowed {
            let shown = if character.is_control() {
                "a control character".to_owned()
            } else {
                format!("'{character}'")
            };
            return Err(PhoneNumberError::new(format!(
                "the number contains {shown} at position {}: use digits, spaces, and a \
                 leading +",
                position + 1
            )));
        }
    }
    if !main.chars().any(|c| c.is_ascii_digit()) {
        return Err(PhoneNumberError::new("the number contains no digits"));
    }
    Ok(())
}

fn national_digits(national: &phonenumber::NationalNumber) -> String {
    format!(
        "{}{}",
        "0".repeat(usize::from(national.zeros())),
        national.value()
    )
}

fn parse_error(main: &str, error: &phonenumber::ParseError) -> PhoneNumberError {
    use phonenumber::ParseError;
    match error {
        ParseError::InvalidCountryCode => {
            let code: String = main
                .chars()
                .skip(1)
                .take_while(|c| c.is_ascii_digit())
                .take(3)
                .collect();
            PhoneNumberError::new(format!(
                "the number does not start with a known country calling code (it starts \
                 with +{code})"
            ))
        }
        ParseError::TooShortNsn | ParseError::TooShortAfterIdd | ParseError::NoNumber => {
            PhoneNumberError::new("the number is too short")
        }
        ParseError::TooLong => PhoneNumberError::new("the number is too long"),
        ParseError::MalformedInteger(_) => {
            PhoneNumberError::new("the number is not a well-formed phone number")
        }
    }
}

fn invalid_number_error(
    country_code: u16,
    national: &str,
    region: Option<&str>,
    metadata: Option<&phonenumber::Metadata>,
) -> PhoneNumberError {
    // Several regions may share the code (+1 is many); the number's own region comes first.
    let mut regions: Vec<&phonenumber::Metadata> = metadata.into_iter().collect();
    regions.extend(DATABASE.by_code(&country_code).unwrap_or_default());
    let region = region.or_else(|| regions.first().map(|metadata| metadata.id()));
    let place = match region {
        Some(region) => format!("{region} (+{country_code})"),
        None => format!("+{country_code}"),
    };
    let length = national.len();
    for kind in [LineKind::Mobile, LineKind::FixedLine] {
        for region_metadata in &regions {
            let descriptors = region_metadata.descriptors();
            let descriptor = match kind {
                LineKind::Mobile => descriptors.mobile(),
                _ => descriptors.fixed_line(),
            };
            let Some(descriptor) = descriptor else {
                continue;
            };
            let lengths: Vec<usize> = descriptor
                .possible_length()
                .iter()
                .map(|length| usize::from(*length))
                .collect();
            let expected = describe_lengths(&lengths);
            let what = match kind {
                LineKind::Mobile => "mobile numbers",
                _ => "landline numbers",
            };
            // When the digits given, completed, would be a number of this kind, there are too
            // few of them.
            let completes = lengths
                .iter()
                .filter(|wanted| **wanted > length)
                .any(|wanted| {
                    ['0', '1', '5', '9'].iter().any(|fill| {
                        descriptor.is_match(&format!(
                            "{national}{}",
                            fill.to_string().repeat(wanted - length)
                        ))
                    })
                });
            if completes {
                return PhoneNumberError::new(format!(
                    "the number is too short: {length} digits after the country code, and \
                     {what} like it in {place} have {expected}"
                ));
            }
            let truncates = lengths
                .iter()
                .filter(|wanted| **wanted < length)
                .any(|wanted| descriptor.is_match(&national[..*wanted]));
            if truncates {
                return PhoneNumberError::new(format!(
                    "the number is too long: {length} digits after the country code, and \
                     {what} like it in {place} have {expected}"
                ));
            }
        }
    }
    PhoneNumberError::new(format!(
        "the number is not a valid phone number in {place} by its numbering plan: check the \
         digits"
    ))
}

fn describe_lengths(lengths: &[usize]) -> String {
    match lengths {
        [] => "another length".to_owned(),
        [only] => format!("{only}"),
        [first, .., last] => format!("{first} to {last}"),
    }
}

#[cfg(test)]
mod tests;
