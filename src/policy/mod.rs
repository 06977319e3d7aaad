//! The tenant's Authentication methods policy for SMS and voice ([`rules`]), read once and
//! kept fresh in the background, so that an invocation reads it without a round trip of its
//! own. Without the permission to read it, invocations carry on and say so (`policyUnknown`).

pub mod rules;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use self::rules::MethodPolicies;
use crate::graph::{GraphClient, GraphError};

/// How long a read policy is used when it could not be read again.
const MAX_AGE: Duration = Duration::from_secs(30 * 60);
/// How long a failed read is remembered before an invocation tries again itself.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// The policy as last read, shared by every invocation of the process.
pub struct Policies {
    refresh_every: Duration,
    current: Mutex<Option<Read>>,
    loading: tokio::sync::Mutex<()>,
}

/// One read of the policy: the policy, or why it could not be read.
#[derive(Clone)]
struct Read {
    policies: Result<Arc<MethodPolicies>, Arc<GraphError>>,
    at: Instant,
}

impl Policies {
    pub fn new(refresh_every: Duration) -> Policies {
        Policies {
            refresh_every,
            current: Mutex::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// The policy, read now if no usable read exists.
    ///
    /// # Errors
    ///
    /// Why the policy could not be read (a missing permission, Graph unavailable).
    pub async fn current(
        &self,
        graph: &GraphClient,
    ) -> Result<Arc<MethodPolicies>, Arc<GraphError>> {
        if let Some(read) = self.usable() {
            return read;
        }
        let _loading = self.loading.lock().await;
        if let Some(read) = self.usable() {
            return read;
        }
        self.read(graph).await
    }

    /// Reads the policy again every `refresh_every`, at once the first time.
    pub async fn keep_fresh(&self, graph: &GraphClient) {
        loop {
            if let Err(error) = self.read(graph).await {
                tracing::warn!("could not read the Authentication methods policy: {error}");
            }
            tokio::time::sleep(self.refresh_every).await;
        }
    }

    async fn read(&self, graph: &GraphClient) -> Result<Arc<MethodPolicies>, Arc<GraphError>> {
        let policies = graph
            .method_policies()
            .await
            .map(Arc::new)
            .map_err(Arc::new);
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A failed read does not replace a good one that is still young enough to use.
        let keep_old = policies.is_err()
            && current
                .as_ref()
                .is_some_and(|old| old.policies.is_ok() && old.at.elapsed() < MAX_AGE);
        if !keep_old {
            *current = Some(Read {
                policies: policies.clone(),
                at: Instant::now(),
            });
        }
        policies
    }

    fn usable(&self) -> Option<Result<Arc<MethodPolicies>, Arc<GraphError>>> {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let read = current.as_ref()?;
        let young = match &read.policies {
            Ok(_) => read.at.elapsed() < MAX_AGE,
            Err(_) => read.at.elapsed() < RETRY_AFTER_FAILURE,
        };
        young.then(|| read.policies.clone())
    }
}
