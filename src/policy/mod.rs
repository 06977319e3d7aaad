//! Reads the tenant's Authentication methods policy for SMS and voice
//! ([`crate::method_policy`]) once and keeps it fresh in the background, so that an invocation
//! reads it without a round trip of its own. Without the permission to read it, invocations
//! carry on and say so (`policyUnknown`); a deployment that does not grant it switches the
//! check off (`MFA_METHOD_POLICY_CHECK`). An invocation never waits longer than [`WAIT`] for a
//! read.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::graph::{GraphClient, GraphError, GraphErrorKind, GraphOperation};
use crate::method_policy::MethodPolicies;

/// How long a read policy is used when it could not be read again.
const MAX_AGE: Duration = Duration::from_secs(30 * 60);
/// How long a failed read is remembered before an invocation tries again itself (a missing
/// permission: until the next background read).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);
/// The longest an invocation waits for the policy: it is optional, so a slow read costs a
/// `policyUnknown` warning, not the caller's time.
pub const WAIT: Duration = Duration::from_secs(5);

/// The policy as last read, shared by every invocation of the process.
pub struct Policies {
    enabled: bool,
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
    pub fn new(refresh_every: Duration, enabled: bool) -> Policies {
        Policies {
            enabled,
            refresh_every,
            current: Mutex::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// Returns the policy, read now if no usable read exists, waiting at most [`WAIT`]; `None`
    /// when the check is switched off. `Some(Err(_))` says why it could not be read (a missing
    /// permission, Graph unavailable or slow).
    pub async fn current(
        &self,
        graph: &GraphClient,
    ) -> Option<Result<Arc<MethodPolicies>, Arc<GraphError>>> {
        if !self.enabled {
            return None;
        }
        if let Some(read) = self.usable() {
            return Some(read);
        }
        let read = async {
            let _loading = self.loading.lock().await;
            if let Some(read) = self.usable() {
                return read;
            }
            self.read(graph).await
        };
        let read = tokio::time::timeout(WAIT, read).await;
        Some(read.unwrap_or_else(|_| {
            // A slow read is remembered like a failed read, so that the next invocations do
            // not wait too.
            self.record(Err(Arc::new(GraphError {
                operation: GraphOperation::ReadMethodPolicy,
                kind: GraphErrorKind::Unavailable {
                    retry_after: None,
                    detail: format!("no answer within {} s", WAIT.as_secs()),
                    throttled: false,
                },
            })))
        }))
    }

    /// Reads the policy again every `refresh_every`, at once the first time.
    pub async fn keep_fresh(&self, graph: &GraphClient) {
        if !self.enabled {
            return;
        }
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
        self.record(policies)
    }

    /// Keeps a read (or a failure) as the current one, and gives it back.
    fn record(
        &self,
        policies: Result<Arc<MethodPolicies>, Arc<GraphError>>,
    ) -> Result<Arc<MethodPolicies>, Arc<GraphError>> {
        let mut current = crate::mutex::lock(&self.current);
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
        let current = crate::mutex::lock(&self.current);
        let read = current.as_ref()?;
        let young = match &read.policies {
            Ok(_) => read.at.elapsed() < MAX_AGE,
            // A permission is not granted within a minute, so only the background read tries
            // again.
            Err(error) if matches!(error.kind, GraphErrorKind::Forbidden { .. }) => {
                read.at.elapsed() < self.refresh_every.max(RETRY_AFTER_FAILURE)
            }
            Err(_) => read.at.elapsed() < RETRY_AFTER_FAILURE,
        };
        young.then(|| read.policies.clone())
    }
}
