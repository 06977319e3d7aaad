//! The owner search: who holds a number for SMS sign-in, when Graph refused to set it for our
//! user with 409 `phoneNumberNotUnique`.
//!
//! Graph has no "who has this number" query, so the search reads every candidate's phone
//! methods ([`scan`]). Candidates come from the registration details report (users with a
//! mobile phone registered) and from the user list, page by page ([`candidates`]); while the
//! next pages are read, the candidates already known are checked in `$batch` requests of 20,
//! several in flight, at a pace that follows Graph's throttling ([`pacer`]). The search stops
//! at the first user who holds the number for SMS sign-in (that holder is unique), when its
//! time budget is spent, or when every candidate is checked. Every number a search reads held
//! for SMS sign-in is remembered for a while (digits → holder), so a later conflict on any of
//! them costs one verifying read instead of a scan.

mod candidates;
mod pacer;
mod scan;
mod state;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::graph::{GraphClient, ListedUser};
use crate::mutex::lock;
use crate::outcome::Outcome;
use crate::phone::{PhoneMethod, PhoneNumber, SmsSignInState};
use crate::report::{ConflictOwner, WarningCode};
use crate::user::UserRef;

/// How the search for the holder of a conflicting number runs.
#[derive(Clone, Debug)]
pub struct OwnerSearchSettings {
    pub enabled: bool,
    /// The search stops when this is spent; an HTTP caller must get an answer well inside
    /// the front end's ~230 s.
    pub budget: Duration,
    /// The most `$batch` requests in flight; the search backs off below this when throttled.
    pub max_batches_in_flight: usize,
    /// How long a number's holder, once found, is remembered.
    pub remember_for: Duration,
}

/// The search, with its memory of holders found before.
pub struct OwnerSearch {
    settings: OwnerSearchSettings,
    /// Digits of a number → who held it for SMS sign-in, and until when we trust that.
    memory: Mutex<HashMap<String, Remembered>>,
}

#[derive(Clone, Debug)]
struct Remembered {
    owner: ConflictOwner,
    until: Instant,
}

/// Items per `$batch`: Graph's maximum.
const BATCH_SIZE: usize = 20;
/// How many numbers the memory holds at most (about 200 bytes each).
const MAX_REMEMBERED: usize = 200_000;

impl OwnerSearch {
    pub fn new(settings: OwnerSearchSettings) -> OwnerSearch {
        OwnerSearch {
            settings,
            memory: Mutex::new(HashMap::new()),
        }
    }

    /// Finds who holds `number` for SMS sign-in, leaving `target` (our own user) out. What the
    /// admin should know about how the search went becomes warnings of `outcome`.
    pub async fn search(
        &self,
        graph: &GraphClient,
        number: &PhoneNumber,
        target: &UserRef,
        deadline: Instant,
        outcome: &mut Outcome,
    ) -> Option<ConflictOwner> {
        if !self.settings.enabled {
            outcome.warn(
                WarningCode::OwnerSearchDisabled,
                "the search for the user holding the number is switched off \
                 (MFA_OWNER_SEARCH=false)",
            );
            return None;
        }
        let key = number.digits();
        if let Some(remembered) = self.remembered(&key) {
            outcome.note(format!(
                "Owner search: checking {} first, who held {number} when a search last read it",
                remembered
                    .user_principal_name
                    .as_deref()
                    .unwrap_or(&remembered.id)
            ));
            let holder = UserRef::ObjectId(remembered.id.clone());
            // One round trip reads the holder's methods, and their account for the report.
            if let (user, Ok(methods)) = graph.user_and_phone_methods(&holder).await
                && let Some(method) = methods.iter().find(|method| holds(method, number))
            {
                return Some(ConflictOwner {
                    phone_type: method.phone_type.as_str().to_owned(),
                    sms_sign_in_state: method.sms_sign_in_state.as_ref().map(|s| s.to_string()),
                    account_enabled: user.ok().and_then(|user| user.account_enabled),
                    ..remembered
                });
            }
            self.forget(&key);
        }
        let budget = self.settings.budget;
        let max_in_flight = self.settings.max_batches_in_flight;
        let (owner, learned) = scan::scan(
            graph,
            number,
            target,
            scan::Limits {
                budget,
                max_in_flight,
                invocation_deadline: deadline,
            },
            outcome,
        )
        .await;
        self.remember(learned);
        owner
    }

    fn remembered(&self, key: &str) -> Option<ConflictOwner> {
        let memory = lock(&self.memory);
        memory
            .get(key)
            .filter(|remembered| remembered.until > Instant::now())
            .map(|remembered| remembered.owner.clone())
    }

    fn remember(&self, learned: Vec<(String, ConflictOwner)>) {
        if self.settings.remember_for.is_zero() || learned.is_empty() {
            return;
        }
        let mut memory = lock(&self.memory);
        let now = Instant::now();
        memory.retain(|_, remembered| remembered.until > now);
        let until = now + self.settings.remember_for;
        for (digits, owner) in learned {
            if memory.len() >= MAX_REMEMBERED && !memory.contains_key(&digits) {
                break;
            }
            memory.insert(digits, Remembered { owner, until });
        }
    }

    fn forget(&self, key: &str) {
        let mut memory = lock(&self.memory);
        memory.remove(key);
    }
}

fn conflict_owner(
    user: &ListedUser,
    method: &PhoneMethod,
    account_enabled: Option<bool>,
) -> ConflictOwner {
    ConflictOwner {
        id: user.id.clone(),
        user_principal_name: user.user_principal_name.clone(),
        display_name: user.display_name.clone(),
        phone_type: method.phone_type.as_str().to_owned(),
        sms_sign_in_state: method
            .sms_sign_in_state
            .as_ref()
            .map(|state| state.to_string()),
        account_enabled,
    }
}

/// Whether `method` holds `number` for SMS sign-in.
fn holds(method: &PhoneMethod, number: &PhoneNumber) -> bool {
    number.matches(&method.number) && method.sms_sign_in_state == Some(SmsSignInState::Ready)
}
