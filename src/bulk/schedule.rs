//! Decides the order the operations run in. One user's operations run one after another, in
//! the file's order except where Graph needs another (a mobile set before the same user's
//! alternate mobile, an alternate mobile removed before the mobile, whichever rows come first);
//! different users run side by side. It also finds the problems only the whole file shows: one
//! user and type given two numbers to set. Pure: no IO.

use std::collections::HashMap;

use super::problem::Problem;
use super::rows::Operation;
use crate::phone::PhoneType;

/// A number set for a user when an earlier row sets it for another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SharedNumber {
    pub(crate) line: u64,
    pub(crate) earlier_line: u64,
    /// Masked.
    pub(crate) number: String,
}

impl std::fmt::Display for SharedNumber {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "line {}: {} is also given to another user on line {}",
            self.line, self.number, self.earlier_line
        )
    }
}

/// Every operation, and each user's in the order they run. It is held compactly because a
/// 1,000,000-row file is a million operations and a million users: a user is a hash (two users
/// who share one are merely run one after the other) and the chains are one array of indices.
pub struct Schedule {
    pub operations: Vec<Operation>,
    /// Every operation's index, user by user (in the order users first appear), each user's in
    /// run order.
    order: Vec<u32>,
    /// Where each user's indices start in `order` (and, last, its length).
    starts: Vec<u32>,
}

impl Schedule {
    /// Orders `operations` (in file order).
    ///
    /// # Errors
    ///
    /// When a user and phone type are given two different numbers to set: a problem for each
    /// of that user's operations of that type, naming the other line (columns by letter only).
    pub fn new(operations: Vec<Operation>) -> Result<Schedule, Vec<Problem>> {
        let (schedule, problems) = Schedule::apart(operations, &|_| String::new());
        if problems.is_empty() {
            Ok(schedule)
        } else {
            Err(problems)
        }
    }

    /// Orders `operations` (in file order), setting apart every operation of a user and phone
    /// type given two different numbers to set (which one is meant cannot be told). Returns the
    /// plan of the rest, and a problem for each operation set apart, in file order, with its
    /// column named by `column_name`.
    pub(crate) fn apart(
        operations: Vec<Operation>,
        column_name: &dyn Fn(usize) -> String,
    ) -> (Schedule, Vec<Problem>) {
        let schedule = Schedule::ordered(operations);
        let mut apart = Vec::new();
        for chain in schedule.chains() {
            let mut in_file_order = chain.to_vec();
            in_file_order.sort_unstable();
            apart.extend(conflicting_sets(&schedule.operations, &in_file_order));
        }
        if apart.is_empty() {
            return (schedule, Vec::new());
        }
        let mut set_apart = vec![false; schedule.operations.len()];
        for (index, _) in &apart {
            set_apart[*index] = true;
        }
        let rest = schedule
            .operations
            .into_iter()
            .zip(set_apart)
            .filter_map(|(operation, apart)| (!apart).then_some(operation))
            .collect();
        let mut problems: Vec<Problem> = apart
            .into_iter()
            .map(|(_, mut problem)| {
                if let Some((index, name)) = &mut problem.column {
                    *name = column_name(*index);
                }
                problem
            })
            .collect();
        problems.sort_by_key(|problem| problem.line);
        (Schedule::ordered(rest), problems)
    }

    fn ordered(mut operations: Vec<Operation>) -> Schedule {
        operations.shrink_to_fit();
        let index_of = |index: usize| u32::try_from(index).unwrap_or(u32::MAX);
        // `chain_of` records which user (chain) each operation belongs to, users numbered as
        // they first appear.
        let mut by_user: HashMap<u64, u32> = HashMap::new();
        let mut chain_of = Vec::with_capacity(operations.len());
        let mut sizes: Vec<u32> = Vec::new();
        for operation in &operations {
            let next = index_of(sizes.len());
            let chain = *by_user.entry(user_hash(operation)).or_insert(next);
            if chain == next {
                sizes.push(0);
            }
            sizes[chain as usize] += 1;
            chain_of.push(chain);
        }
        drop(by_user);
        let mut starts = Vec::with_capacity(sizes.len() + 1);
        let mut total = 0u32;
        for size in &sizes {
            starts.push(total);
            total += size;
        }
        starts.push(total);
        let mut filled = starts.clone();
        let mut order = vec![0u32; operations.len()];
        for (index, chain) in chain_of.into_iter().enumerate() {
            let slot = &mut filled[chain as usize];
            order[*slot as usize] = index_of(index);
            *slot += 1;
        }
        for window in starts.windows(2) {
            let chain = &mut order[window[0] as usize..window[1] as usize];
            let ordered = graph_order(&operations, chain);
            chain.copy_from_slice(&ordered);
        }
        Schedule {
            operations,
            order,
            starts,
        }
    }

    /// Every number the file gives to a user when an earlier row gives it to another, in file
    /// order. Two people seldom share a phone: many users given one number is what a file
    /// written to take over accounts looks like (every one of them would then receive their
    /// codes on it), so the check before sending warns of it.
    pub(crate) fn shared_numbers(&self) -> Vec<SharedNumber> {
        let mut first: HashMap<&str, (String, u64)> = HashMap::new();
        let mut shared = Vec::new();
        for operation in self.operations.iter().filter(|operation| !operation.remove) {
            let key = operation.user_key();
            match first.get(&*operation.number) {
                Some((earlier_user, earlier_line)) if *earlier_user != key => {
                    shared.push(SharedNumber {
                        line: operation.line,
                        earlier_line: *earlier_line,
                        number: crate::phone::mask(&operation.number),
                    });
                }
                Some(_) => {}
                None => {
                    first.insert(&operation.number, (key, operation.line));
                }
            }
        }
        shared.sort_by_key(|shared| shared.line);
        shared
    }

    /// Each user's operations (indices into `operations`), in run order; users in the order
    /// they first appear.
    pub(crate) fn chains(&self) -> impl Iterator<Item = &[u32]> {
        self.starts
            .windows(2)
            .map(|window| &self.order[window[0] as usize..window[1] as usize])
    }
}

/// Hashes the key of the user an operation is for (a UPN without case, an object id in any
/// spelling).
fn user_hash(operation: &Operation) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    operation.user_key().hash(&mut hasher);
    hasher.finish()
}

/// Sets apart the operations of a user and type set to two different numbers: which one is
/// meant cannot be told, so every operation of that user and type (`chain` in file order) is
/// set apart, each with its problem (the column left for the caller to name).
fn conflicting_sets(operations: &[Operation], chain: &[u32]) -> Vec<(usize, Problem)> {
    // This keeps the first set of each user and type, and the first set of another number
    // after it. It is keyed by the user too, because two users who share a hash share a chain,
    // nothing more.
    let mut sets: HashMap<(String, PhoneType), (&Operation, Option<&Operation>)> = HashMap::new();
    for operation in chain.iter().map(|index| &operations[*index as usize]) {
        if operation.remove {
            continue;
        }
        let key = (operation.user_key(), operation.phone_type);
        match sets.get_mut(&key) {
            Some((first, second @ None)) if first.number != operation.number => {
                *second = Some(operation);
            }
            Some(_) => {}
            None => {
                sets.insert(key, (operation, None));
            }
        }
    }
    sets.retain(|_, (_, second)| second.is_some());
    if sets.is_empty() {
        return Vec::new();
    }
    let mut apart = Vec::new();
    for index in chain.iter().map(|index| *index as usize) {
        let operation = &operations[index];
        let key = (operation.user_key(), operation.phone_type);
        let Some((first, Some(second))) = sets.get(&key) else {
            continue;
        };
        let (user, phone_type) = (&operation.user, operation.phone_type);
        let message = if operation.remove {
            format!(
                "{user} is given two {phone_type} numbers to set (lines {} and {}): keep one; \
                 this removal waits until then",
                first.line, second.line
            )
        } else if operation.number == first.number {
            format!(
                "{user} is given another {phone_type} number to set on line {}: keep one",
                second.line
            )
        } else {
            format!(
                "{user} is given a second {phone_type} number to set (line {} gives another): \
                 keep one",
                first.line
            )
        };
        apart.push((
            index,
            Problem {
                line: operation.line,
                user: Some(operation.user.to_string()),
                user_key: None,
                column: Some((operation.column as usize, String::new())),
                message,
            },
        ));
    }
    apart
}

/// Keeps the file's order, but moves an alternate mobile's set after the user's last mobile
/// set, and a mobile's removal after the user's last alternate mobile removal.
fn graph_order(operations: &[Operation], chain: &[u32]) -> Vec<u32> {
    let is = |index: u32, phone_type: PhoneType, remove: bool| {
        let operation = &operations[index as usize];
        operation.phone_type == phone_type && operation.remove == remove
    };
    let last_mobile_set = chain
        .iter()
        .rposition(|index| is(*index, PhoneType::Mobile, false));
    let last_alternate_removal = chain
        .iter()
        .rposition(|index| is(*index, PhoneType::AlternateMobile, true));
    let mut ordered = Vec::with_capacity(chain.len());
    let (mut waiting_for_mobile, mut waiting_for_alternate) = (Vec::new(), Vec::new());
    for (position, index) in chain.iter().copied().enumerate() {
        if is(index, PhoneType::AlternateMobile, false)
            && last_mobile_set.is_some_and(|last| position < last)
        {
            waiting_for_mobile.push(index);
            continue;
        }
        if is(index, PhoneType::Mobile, true)
            && last_alternate_removal.is_some_and(|last| position < last)
        {
            waiting_for_alternate.push(index);
            continue;
        }
        ordered.push(index);
        if Some(position) == last_mobile_set {
            ordered.append(&mut waiting_for_mobile);
        }
        if Some(position) == last_alternate_removal {
            ordered.append(&mut waiting_for_alternate);
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operation(
        line: u64,
        user: &str,
        phone_type: PhoneType,
        remove: bool,
        number: &str,
    ) -> Operation {
        Operation {
            line,
            user: user.into(),
            phone_type,
            remove,
            number: number.into(),
            column: 1,
            options: None,
            by_fingerprint: false,
        }
    }

    #[test]
    fn one_users_rows_run_in_file_order_except_where_graph_needs_another() {
        use PhoneType::{AlternateMobile, Mobile, Office};
        let operations = vec![
            operation(2, "a@b.c", AlternateMobile, false, "+49 1707654321"),
            operation(3, "other@b.c", Mobile, false, "+49 1701111111"),
            operation(4, "A@B.C", Office, false, "+49 891234567"),
            operation(5, "a@b.c", Mobile, false, "+49 1701234567"),
            operation(6, "other@b.c", Mobile, true, "+49 1702222222"),
            operation(7, "other@b.c", AlternateMobile, true, "+49 1703333333"),
        ];
        let schedule = Schedule::new(operations).expect("a schedule");
        let lines = |chain: &[u32]| {
            chain
                .iter()
                .map(|index| schedule.operations[*index as usize].line)
                .collect::<Vec<_>>()
        };
        let chains: Vec<&[u32]> = schedule.chains().collect();
        assert_eq!(chains.len(), 2, "a UPN compared without case");
        assert_eq!(
            lines(chains[0]),
            [4, 5, 2],
            "the mobile before the alternate"
        );
        assert_eq!(
            lines(chains[1]),
            [3, 7, 6],
            "the alternate removed before the mobile"
        );
    }

    #[test]
    fn a_number_given_to_several_users_is_named_with_both_lines() {
        use PhoneType::{Mobile, Office};
        let schedule = Schedule::new(vec![
            operation(2, "a@b.c", Mobile, false, "+49 1701234567"),
            operation(3, "A@B.C", Office, false, "+49 1701234567"),
            operation(4, "other@b.c", Mobile, false, "+49 1701234567"),
            operation(5, "third@b.c", Mobile, true, "+49 1701234567"),
            operation(6, "fourth@b.c", Mobile, false, "+49 1709999999"),
        ])
        .expect("a schedule");
        let shared = schedule.shared_numbers();
        assert_eq!(
            shared,
            [SharedNumber {
                line: 4,
                earlier_line: 2,
                number: "+49 ********67".to_owned()
            }],
            "the same user twice, and a removal, are no warning"
        );
        assert_eq!(
            shared[0].to_string(),
            "line 4: +49 ********67 is also given to another user on line 2"
        );
    }

    #[test]
    fn one_user_and_type_given_two_numbers_is_set_apart_naming_both_lines_and_the_column() {
        use PhoneType::{AlternateMobile, Mobile};
        let (schedule, problems) = Schedule::apart(
            vec![
                operation(2, "a@b.c", Mobile, false, "+49 1701234567"),
                operation(3, "a@b.c", AlternateMobile, false, "+49 1707654321"),
                operation(4, "other@b.c", Mobile, false, "+49 1701111111"),
                operation(5, "other@b.c", Mobile, false, "+49 1701111111"),
                operation(9, "A@B.C", Mobile, false, "+49 1709999999"),
                operation(10, "a@b.c", Mobile, false, "+49 1701234567"),
                operation(11, "a@b.c", Mobile, true, "+49 1708888888"),
            ],
            &|index| ["UPN", "Mobile"][index].to_owned(),
        );
        let lines: Vec<u64> = problems.iter().map(|problem| problem.line).collect();
        assert_eq!(
            lines,
            [2, 9, 10, 11],
            "every operation of that user and type, and only those: {problems:?}"
        );
        let later = problems[1].to_string();
        assert!(
            later.starts_with("line 9, column B (Mobile): ") && later.contains("line 2"),
            "{later}"
        );
        assert!(problems[0].to_string().contains("line 9"), "{problems:?}");
        let planned: Vec<u64> = schedule
            .operations
            .iter()
            .map(|operation| operation.line)
            .collect();
        assert_eq!(
            planned,
            [3, 4, 5],
            "the rest still runs; the same number again is no problem"
        );
        assert!(
            Schedule::new(schedule.operations).is_ok(),
            "nothing left in conflict"
        );
    }
}
