//! The order the operations run in: one user's operations one after another, in the file's
//! order except where Graph needs another (a mobile set before the same user's alternate
//! mobile, an alternate mobile removed before the mobile, whichever rows come first);
//! different users side by side. And the problems only the whole file shows: one user and
//! type given two numbers to set. Pure: no IO.

use std::collections::HashMap;

use super::rows::{Operation, Problem};
use crate::phone::PhoneType;

/// Every operation, and each user's in the order they run.
pub struct Plan {
    pub operations: Vec<Operation>,
    /// Per user, in the order users first appear: indices into `operations`, in run order.
    pub chains: Vec<Vec<usize>>,
}

impl Plan {
    /// Orders `operations` (in file order).
    ///
    /// # Errors
    ///
    /// A user and phone type given two different numbers to set: both lines named.
    pub fn new(operations: Vec<Operation>) -> Result<Plan, Vec<Problem>> {
        let mut by_user: HashMap<String, usize> = HashMap::new();
        let mut chains: Vec<Vec<usize>> = Vec::new();
        for (index, operation) in operations.iter().enumerate() {
            let next = chains.len();
            let chain = *by_user.entry(operation.user_key()).or_insert(next);
            if chain == next {
                chains.push(Vec::new());
            }
            chains[chain].push(index);
        }
        let mut problems = Vec::new();
        for chain in &mut chains {
            problems.extend(conflicting_sets(&operations, chain));
            *chain = graph_order(&operations, chain);
        }
        if !problems.is_empty() {
            problems.sort_by_key(|problem: &Problem| problem.line);
            return Err(problems);
        }
        Ok(Plan { operations, chains })
    }
}

/// A user and type set to two different numbers: which one is meant cannot be told.
fn conflicting_sets(operations: &[Operation], chain: &[usize]) -> Vec<Problem> {
    let mut first_set: HashMap<PhoneType, &Operation> = HashMap::new();
    let mut problems = Vec::new();
    for operation in chain.iter().map(|index| &operations[*index]) {
        if operation.remove {
            continue;
        }
        match first_set.get(&operation.phone_type) {
            Some(earlier) if earlier.number != operation.number => problems.push(Problem {
                line: operation.line,
                column: None,
                message: format!(
                    "{} is given a second {} number to set (line {} gives another): keep one",
                    operation.user, operation.phone_type, earlier.line
                ),
            }),
            Some(_) => {}
            None => {
                first_set.insert(operation.phone_type, operation);
            }
        }
    }
    problems
}

/// The file's order, with an alternate mobile's set moved after the user's last mobile set,
/// and a mobile's removal moved after the user's last alternate mobile removal.
fn graph_order(operations: &[Operation], chain: &[usize]) -> Vec<usize> {
    let is = |index: usize, phone_type: PhoneType, remove: bool| {
        operations[index].phone_type == phone_type && operations[index].remove == remove
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
            options: None,
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
        let plan = Plan::new(operations).expect("a plan");
        let lines = |chain: &[usize]| {
            chain
                .iter()
                .map(|index| plan.operations[*index].line)
                .collect::<Vec<_>>()
        };
        assert_eq!(plan.chains.len(), 2, "a UPN compared without case");
        assert_eq!(
            lines(&plan.chains[0]),
            [4, 5, 2],
            "the mobile before the alternate"
        );
        assert_eq!(
            lines(&plan.chains[1]),
            [3, 7, 6],
            "the alternate removed before the mobile"
        );
    }

    #[test]
    fn one_user_and_type_given_two_numbers_is_a_problem_naming_both_lines() {
        let problems = Plan::new(vec![
            operation(2, "a@b.c", PhoneType::Mobile, false, "+49 1701234567"),
            operation(9, "a@b.c", PhoneType::Mobile, false, "+49 1709999999"),
            operation(10, "a@b.c", PhoneType::Mobile, false, "+49 1701234567"),
        ])
        .err()
        .expect("refused");
        assert_eq!(problems.len(), 1, "the same number again is no problem");
        assert_eq!(problems[0].line, 9);
        assert!(
            problems[0].to_string().contains("line 2"),
            "{}",
            problems[0]
        );
    }
}
