//! Signs account shared access signatures with an account key. They authorise requests to an
//! account with a key (Azurite's development account, a connection string), since the storage
//! crates speak Entra tokens and SAS but no SharedKey. The string to sign is the one the
//! service defines for versions from 2020-12-06 on (account name, permissions, services,
//! resource types, start, expiry, IP range, protocols, version, encryption scope, each followed
//! by a line break), signed with HMAC-SHA256 and the decoded key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use azure_core::credentials::Secret;

/// The service version the signature is made for.
const VERSION: &str = "2025-11-05";
/// Every permission the app uses: read, write, delete, list, add, create, update, process.
const PERMISSIONS: &str = "rwdlacup";
/// Blob and queue.
const SERVICES: &str = "bq";
/// Service, container (queue) and object.
const RESOURCE_TYPES: &str = "sco";
/// Azurite listens on plain http; Azure's endpoints use https.
const PROTOCOLS: &str = "https,http";

/// Makes a SAS query string (without `?`) for the account `account` with key `key`, valid from
/// a few minutes before `now` (clocks differ) for `valid_for`.
///
/// # Errors
///
/// When the key is not base64 (the message does not quote it).
pub fn account_sas(
    account: &str,
    key: &str,
    now: SystemTime,
    valid_for: Duration,
) -> azure_core::Result<String> {
    let start = iso8601(now.checked_sub(Duration::from_secs(300)).unwrap_or(now));
    let expiry = iso8601(now + valid_for);
    let to_sign = format!(
        "{account}\n{PERMISSIONS}\n{SERVICES}\n{RESOURCE_TYPES}\n{start}\n{expiry}\n\n{PROTOCOLS}\n{VERSION}\n\n"
    );
    let signature = azure_core::hmac::hmac_sha256(&to_sign, &Secret::new(key.to_owned()))?;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("sv", VERSION)
        .append_pair("ss", SERVICES)
        .append_pair("srt", RESOURCE_TYPES)
        .append_pair("sp", PERMISSIONS)
        .append_pair("st", &start)
        .append_pair("se", &expiry)
        .append_pair("spr", PROTOCOLS)
        .append_pair("sig", &signature);
    Ok(query.finish())
}

/// Writes a time as `YYYY-MM-DDTHH:MM:SSZ` in UTC, as a SAS writes times.
fn iso8601(at: SystemTime) -> String {
    let seconds = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // This turns days since 1970-01-01 into a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::account::{DEVELOPMENT_ACCOUNT, DEVELOPMENT_KEY};

    #[test]
    fn times_are_written_as_a_sas_writes_them() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            iso8601(UNIX_EPOCH + Duration::from_secs(1_796_409_339)),
            "2026-12-04T18:35:39Z"
        );
        assert_eq!(
            iso8601(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn the_signature_is_the_services_for_the_same_string() {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_409_639);
        let sas = account_sas(
            DEVELOPMENT_ACCOUNT,
            DEVELOPMENT_KEY,
            now,
            Duration::from_secs(3_600),
        )
        .unwrap();
        // The expected signature signs the string-to-sign for these fields independently of
        // the code above.
        let expected = azure_core::hmac::hmac_sha256(
            "devstoreaccount1\nrwdlacup\nbq\nsco\n2026-12-04T18:35:39Z\n2026-12-04T19:40:39Z\n\nhttps,http\n2025-11-05\n\n",
            &Secret::new(DEVELOPMENT_KEY),
        )
        .unwrap();
        let signature = url::form_urlencoded::parse(sas.as_bytes())
            .find(|(name, _)| name == "sig")
            .map(|(_, value)| value.into_owned());
        assert_eq!(signature, Some(expected));
        assert!(account_sas(DEVELOPMENT_ACCOUNT, "not base64!", now, Duration::ZERO).is_err());
    }
}
