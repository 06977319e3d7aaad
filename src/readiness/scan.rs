//! Runs the scan: it reads the policy, expands the groups it (and the protection) names once,
//! reads the registration report page by page at the reports limit (or, `--per-user`, every
//! user and their methods in `$batch`), classifies each user, asks the handler's own
//! protection verdict, reads the phones of the users the clean-up may touch, and hands every
//! row to a [`Sink`] as it goes, so memory stays bounded by a page. It writes nothing to
//! Graph. The entry point, [`scan`], takes the Graph client, the protection and the settings,
//! so the command line and a Function App's timer can both call it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;

use crate::graph::{Denial, GraphClient, GraphError, GraphErrorKind, ListedAccount};
use crate::methods::AuthenticationMethods;
use crate::phone::CleanupKey;
use crate::protection::{Protection, RoleHolders, Verdict as ProtectionVerdict};
use crate::readiness::batches::read_batch;
use crate::readiness::classify::{Category, Kind, Subject, classify};
use crate::readiness::pacer::{Pause, Window};
use crate::readiness::record::{CleanupRecord, Protected, UserRecord, methods_of, removal_order};
use crate::readiness::standing::{global_admin, kind_of_report_row};
use crate::readiness::summary::Summary;
use crate::retirement::{Method, MethodsPolicy};
use crate::user::UserRef;

/// How a scan runs.
#[derive(Clone, Debug)]
pub struct ScanSettings {
    /// Read users and their methods instead of the registration report.
    pub per_user: bool,
    /// Which categories the clean-up removes phones of (never `phoneOnly`).
    pub cleanup: Vec<Category>,
    /// The key of the clean-up's fingerprints; without it, why there is no clean-up file.
    pub cleanup_key: Result<CleanupKey, String>,
    /// The reports limit kept on this side.
    pub reports_limit: (usize, Duration),
    /// How many `$batch` requests are in flight at once (per-user reads, and phone reads for
    /// the clean-up).
    pub batches_in_flight: usize,
}

/// Where a scan's rows go, as they are found.
pub trait Sink: Send {
    /// One classified user.
    ///
    /// # Errors
    ///
    /// When the row cannot be kept.
    fn user(&mut self, record: &UserRecord) -> std::io::Result<()>;
    /// One phone to remove.
    ///
    /// # Errors
    ///
    /// When the row cannot be kept.
    fn cleanup(&mut self, record: &CleanupRecord) -> std::io::Result<()>;
    /// How far the scan is: pages read, users classified, the floor of the time left.
    fn progress(&mut self, _pages: u64, _users: u64, _left: Option<Duration>) {}
    /// Tells, with `--per-user`, how many more enabled users were listed and how many more of
    /// them had their methods read, as it happens (the command adds them up for its time left).
    fn accounts(&mut self, _listed: u64, _read: u64) {}
}

/// Why a scan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The tenant lacks Entra ID P1/P2 for the report.
    #[error(
        "the registration details report needs a Microsoft Entra ID P1 or P2 licence, which the \
         tenant lacks ({0}); run the scan with --per-user instead (it reads every user's \
         methods: slower, for smaller tenants)"
    )]
    Licence(String),
    /// A Graph permission is missing.
    #[error("{0}")]
    Permission(String),
    /// Graph failed otherwise.
    #[error("{0}")]
    Graph(String),
    #[error("could not write the results: {0}")]
    Output(#[from] std::io::Error),
}

impl From<GraphError> for ScanError {
    fn from(error: GraphError) -> ScanError {
        match &error.kind {
            GraphErrorKind::Forbidden {
                denial: Denial::Licence,
                ..
            } => ScanError::Licence(error.kind.answer().unwrap_or_default()),
            GraphErrorKind::Forbidden { .. } => ScanError::Permission(format!(
                "{error}: the identity needs the application permission {}",
                error.operation.permission()
            )),
            _ => ScanError::Graph(error.to_string()),
        }
    }
}

/// What every user's classification needs, read once per scan.
struct Context {
    policy: MethodsPolicy,
    /// User id (lowercase) → the groups among those read that the user is in.
    groups_of: HashMap<String, HashSet<String>>,
    holders: RoleHolders,
    /// Guest id (lowercase) → external; or why guests could not be read.
    guests: Result<HashMap<String, bool>, String>,
    /// The back-off every `$batch` read of the scan shares once Graph throttles one.
    pause: Pause,
}

/// Runs one scan, handing rows to `sink`.
///
/// # Errors
///
/// A [`ScanError`] when the scan could not be made (licence, permission, Graph, output).
pub async fn scan(
    graph: &GraphClient,
    protection: &Protection,
    settings: &ScanSettings,
    sink: &mut dyn Sink,
) -> Result<Summary, ScanError> {
    let started_wall = now_seconds();
    let started = Instant::now();
    let source = if settings.per_user {
        "perUser"
    } else {
        "registrationReport"
    };
    let mut summary = Summary::new(source, started_wall);
    let context = prepare(graph, protection, settings).await?;
    let mut window = Window::new(settings.reports_limit);
    if settings.per_user {
        per_user(graph, protection, settings, &context, &mut summary, sink).await?;
    } else {
        from_report(
            graph,
            protection,
            settings,
            &context,
            &mut summary,
            &mut window,
            sink,
        )
        .await?;
        summary.not_covered.disabled_note = "the registration report leaves disabled users out; \
                                              --per-user counts them"
            .to_owned();
        summary.not_covered.lag_note =
            "the registration report lags by up to a few hours".to_owned();
    }
    summary.paced_seconds = window.waited.as_secs_f64();
    summary.cleanup.written = settings.cleanup_key.is_ok();
    summary.cleanup.note = match &settings.cleanup_key {
        Ok(_) => format!(
            "removes every phone of the users who are {} and not protected; each row names a keyed \
             fingerprint of the number the scan saw, and the handler deletes only that number",
            settings
                .cleanup
                .iter()
                .map(|category| category.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        Err(why) => format!("no cleanup.csv: {why}"),
    };
    summary.finish(started_wall, now_seconds(), started.elapsed().as_secs_f64());
    Ok(summary)
}

/// Reads the policy, the role holders, the members of every group that decides, and the
/// guests.
async fn prepare(
    graph: &GraphClient,
    protection: &Protection,
    settings: &ScanSettings,
) -> Result<Context, ScanError> {
    let (policy, holders) = tokio::join!(graph.readiness_policy(), protection.role_holders(graph));
    let policy = policy?;
    let mut groups: Vec<String> = [&policy.sms, &policy.voice]
        .into_iter()
        .chain(policy.others.values())
        .flat_map(|channel| channel.include.iter().chain(&channel.exclude))
        .filter(|target| target.group && target.id != crate::method_policy::ALL_USERS)
        .map(|target| target.id.clone())
        .chain(protection.groups(&holders))
        .collect();
    groups.sort();
    groups.dedup();
    let mut groups_of: HashMap<String, HashSet<String>> = HashMap::new();
    let reads = futures_util::stream::iter(
        // The names are owned because a future that borrows from the list is not `Send` for
        // every lifetime, and the Function App runs the scan on a multi-threaded runtime.
        groups.into_iter().map(|group| async move {
            let members = graph.transitive_user_members(&group).await;
            (group, members)
        }),
    )
    .buffer_unordered(4)
    .collect::<Vec<_>>()
    .await;
    for (group, members) in reads {
        let members = match members {
            Ok(members) => members,
            // Not found means a role holder of unknown kind that is no group, or a group
            // deleted since: it has no members to read.
            Err(GraphError {
                kind: GraphErrorKind::NotFound { .. },
                ..
            }) => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        for member in members {
            groups_of.entry(member).or_default().insert(group.clone());
        }
    }
    let guests = if settings.per_user {
        Ok(HashMap::new())
    } else {
        graph
            .all_accounts(graph.accounts_url(true))
            .await
            .map(|accounts| {
                accounts
                    .into_iter()
                    .map(|account| (account.id.to_ascii_lowercase(), account.external))
                    .collect()
            })
            .map_err(|error| error.to_string())
    };
    Ok(Context {
        policy,
        groups_of,
        holders,
        guests,
        pause: Pause::default(),
    })
}

async fn from_report(
    graph: &GraphClient,
    protection: &Protection,
    settings: &ScanSettings,
    context: &Context,
    summary: &mut Summary,
    window: &mut Window,
    sink: &mut dyn Sink,
) -> Result<(), ScanError> {
    let mut next = Some(graph.readiness_report_url());
    while let Some(url) = next.take() {
        window.wait().await;
        let page = graph.registration_rows(url).await?;
        summary.pages += 1;
        next = page.next;
        let mut candidates = Vec::new();
        for row in page.rows {
            if let Some(at) = &row.last_updated {
                summary.report_row_refreshed(at);
            }
            let kind = kind_of_report_row(&row, &context.guests);
            let record = record(
                protection,
                context,
                Account {
                    id: &row.id,
                    user_principal_name: row.user_principal_name.as_deref(),
                    display_name: row.display_name.as_deref(),
                    kind,
                },
                &row.methods,
                row.unknown.clone(),
            );
            sink.user(&record)?;
            summary.add(&record);
            summary.in_scope_of(&record.scope);
            if settings.cleanup_key.is_ok() && takes_part(settings, &record) {
                candidates.push(record);
            }
        }
        let left = next
            .as_ref()
            .map(|_| window.floor(settings.reports_limit.0 as u64));
        sink.progress(summary.pages, summary.users, left);
        cleanup_from_reads(graph, settings, &context.pause, candidates, summary, sink).await?;
    }
    Ok(())
}

/// Whether the clean-up removes the user's phones.
fn takes_part(settings: &ScanSettings, record: &UserRecord) -> bool {
    settings.cleanup.contains(&record.verdict.category)
        && record.verdict.category != Category::PhoneOnly
        && !record.protected.holds_back()
}

/// Reads the phones of the report's candidates (`$batch`, several in flight) and writes their
/// removals, named by fingerprint.
async fn cleanup_from_reads(
    graph: &GraphClient,
    settings: &ScanSettings,
    pause: &Pause,
    candidates: Vec<UserRecord>,
    summary: &mut Summary,
    sink: &mut dyn Sink,
) -> Result<(), ScanError> {
    let Ok(key) = &settings.cleanup_key else {
        return Ok(());
    };
    let chunks: Vec<Vec<UserRecord>> = candidates.chunks(20).map(<[_]>::to_vec).collect();
    let mut reads = futures_util::stream::iter(chunks.into_iter().map(|chunk| async move {
        let users: Vec<UserRef> = chunk
            .iter()
            .map(|record| UserRef::ObjectId(record.id.to_ascii_lowercase()))
            .collect();
        let answers = read_batch(&users, pause, move |asked| async move {
            graph.batch_phone_methods(&asked).await
        })
        .await;
        (chunk, answers)
    }))
    .buffer_unordered(settings.batches_in_flight.max(1));
    while let Some((chunk, answers)) = reads.next().await {
        let answers = answers?;
        for (index, record) in chunk.iter().enumerate() {
            match answers.get(&index) {
                Some(Ok(phones)) => {
                    let methods = AuthenticationMethods {
                        phone: phones.clone(),
                        other: Vec::new(),
                    };
                    write_cleanup(key, record, &methods, summary, sink)?;
                }
                _ => summary.unreadable(&record.id),
            }
        }
    }
    Ok(())
}

fn write_cleanup(
    key: &CleanupKey,
    record: &UserRecord,
    methods: &AuthenticationMethods,
    summary: &mut Summary,
    sink: &mut dyn Sink,
) -> std::io::Result<()> {
    let mut phones: Vec<_> = methods.phone.iter().collect();
    phones.sort_by_key(|phone| removal_order(phone.phone_type));
    if phones.is_empty() {
        return Ok(());
    }
    summary.cleanup.users += 1;
    for phone in phones {
        sink.cleanup(&CleanupRecord {
            user_id: record.id.clone(),
            user_principal_name: record.user_principal_name.clone(),
            phone_type: phone.phone_type,
            fingerprint: key.fingerprint(phone.number.as_graph_text()),
            category: record.verdict.category.as_str(),
        })?;
        summary.cleanup.rows += 1;
    }
    Ok(())
}

async fn per_user(
    graph: &GraphClient,
    protection: &Protection,
    settings: &ScanSettings,
    context: &Context,
    summary: &mut Summary,
    sink: &mut dyn Sink,
) -> Result<(), ScanError> {
    let mut disabled = 0;
    let mut next = Some(graph.accounts_url(false));
    while let Some(url) = next.take() {
        let page = graph.accounts_page(url).await?;
        summary.pages += 1;
        next = page.next;
        let (enabled, off): (Vec<ListedAccount>, Vec<ListedAccount>) = page
            .accounts
            .into_iter()
            .partition(|account| account.enabled);
        disabled += off.len() as u64;
        sink.accounts(enabled.len() as u64, 0);
        let chunks: Vec<Vec<ListedAccount>> = enabled.chunks(20).map(<[_]>::to_vec).collect();
        let mut reads = futures_util::stream::iter(chunks.into_iter().map(|chunk| async move {
            let users: Vec<UserRef> = chunk
                .iter()
                .map(|account| UserRef::ObjectId(account.id.to_ascii_lowercase()))
                .collect();
            let answers = read_batch(&users, &context.pause, move |asked| async move {
                graph.batch_methods(&asked).await
            })
            .await;
            (chunk, answers)
        }))
        .buffer_unordered(settings.batches_in_flight.max(1));
        while let Some((chunk, answers)) = reads.next().await {
            let answers = answers?;
            sink.accounts(0, chunk.len() as u64);
            for (index, account) in chunk.iter().enumerate() {
                let Some(Ok(methods)) = answers.get(&index) else {
                    summary.unreadable(&account.id);
                    continue;
                };
                if methods.phone.is_empty() {
                    continue;
                }
                let (registered, unknown) = methods_of(methods);
                let kind = match (account.guest, account.external) {
                    (_, true) => Kind::External,
                    (true, false) => Kind::InternalGuest,
                    (false, false) => Kind::Member,
                };
                let record = record(
                    protection,
                    context,
                    Account {
                        id: &account.id,
                        user_principal_name: account.user_principal_name.as_deref(),
                        display_name: account.display_name.as_deref(),
                        kind,
                    },
                    &registered,
                    unknown,
                );
                sink.user(&record)?;
                summary.add(&record);
                summary.in_scope_of(&record.scope);
                if let Ok(key) = &settings.cleanup_key
                    && takes_part(settings, &record)
                {
                    write_cleanup(key, &record, methods, summary, sink)?;
                }
            }
        }
        sink.progress(summary.pages, summary.users, None);
    }
    summary.not_covered.disabled_users = Some(disabled);
    summary.not_covered.disabled_note =
        "disabled users are left out, as the registration report leaves them out".to_owned();
    Ok(())
}

/// Who a row is about.
struct Account<'a> {
    id: &'a str,
    user_principal_name: Option<&'a str>,
    display_name: Option<&'a str>,
    kind: Kind,
}

fn record(
    protection: &Protection,
    context: &Context,
    account: Account<'_>,
    registered: &[Method],
    unknown: Vec<String>,
) -> UserRecord {
    let empty = HashSet::new();
    let member_of = context
        .groups_of
        .get(&account.id.to_ascii_lowercase())
        .unwrap_or(&empty);
    let verdict = classify(
        &context.policy,
        &Subject {
            id: account.id,
            kind: account.kind.clone(),
            registered,
            member_of,
            global_admin: global_admin(&context.holders, account.id, member_of),
        },
    );
    let scope = if verdict.category == Category::PhoneOnly && verdict.affected_from.is_some() {
        scope_groups(&context.policy, member_of)
    } else {
        Vec::new()
    };
    let protected = match protection.verdict(&context.holders, &Ok(member_of.clone()), account.id) {
        ProtectionVerdict::Clear => Protected::No,
        ProtectionVerdict::Protected(reasons) => Protected::Yes(reasons),
        ProtectionVerdict::Unknown(error) => Protected::Unknown(error.to_string()),
    };
    UserRecord {
        id: account.id.to_owned(),
        user_principal_name: account.user_principal_name.unwrap_or_default().to_owned(),
        // A display name may hold a phone number ("Ann (mobile +49 170 …)"): no file holds one
        // in full. The principal name is an identifier and stays whole.
        display_name: crate::phone::redact_numbers(account.display_name.unwrap_or_default()),
        kind: account.kind,
        verdict,
        protected,
        unknown_methods: unknown,
        scope,
    }
}

/// Finds the SMS and voice include targets that reach a user in `member_of`.
fn scope_groups(policy: &MethodsPolicy, member_of: &HashSet<String>) -> Vec<String> {
    let mut groups: Vec<String> = [&policy.sms, &policy.voice]
        .into_iter()
        .filter(|channel| channel.enabled)
        .flat_map(|channel| &channel.include)
        .filter(|target| {
            target.id == crate::method_policy::ALL_USERS || member_of.contains(&target.id)
        })
        .map(|target| target.id.clone())
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(0))
}
