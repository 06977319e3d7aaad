//! Makes the runbook's decision as a pure function: given what the user has and what was
//! asked, it decides which single Graph write follows, if any.
//!
//! No IO happens here and nothing here knows Graph's URLs or JSON. The runbook module reads
//! the tenant, calls [`plan`], carries the plan out, and calls [`plan`] again on what it reads
//! back whenever a write's outcome is uncertain, so a redelivered or concurrent request
//! converges on the same state.

use crate::phone::{PhoneMethod, PhoneType, RegisteredNumber};
use crate::report::Action;
use crate::request::Operation;

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// One write brings the tenant to the requested state.
    Write(Write),
    /// The tenant is already in the requested state.
    Done(Settled),
    /// Graph's rules, or the caller's own request, forbid the change.
    Refuse(Refusal),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// POST a method of the requested type.
    Add,
    /// PATCH the existing method of the requested type to the new number.
    Update,
    /// DELETE the method of the requested type.
    Remove,
}

impl Write {
    /// What the result says was done once this write is made.
    pub fn action(self) -> Action {
        match self {
            Write::Add => Action::Added,
            Write::Update => Action::Updated,
            Write::Remove => Action::Removed,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The method already holds the number.
    Unchanged,
    /// There is no method of the type to remove.
    NotPresent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An alternate mobile phone needs a mobile phone first.
    AlternateMobileRequiresMobile,
    /// The mobile phone cannot go while an alternate mobile phone exists.
    MobileHasAlternate,
    /// Remove named one number, and the method holds another: removing it could undo a
    /// change made after the request was sent.
    NumberMismatch { registered: RegisteredNumber },
}

/// Decides the one write (or none) that brings the user's `phone_type` method to what the
/// request asks.
pub fn plan(operation: &Operation, phone_type: PhoneType, methods: &[PhoneMethod]) -> Plan {
    let current = find(methods, phone_type);
    match operation {
        Operation::Set(number) => match current {
            Some(method) if number.matches(&method.number) => Plan::Done(Settled::Unchanged),
            Some(_) => Plan::Write(Write::Update),
            None if phone_type == PhoneType::AlternateMobile
                && find(methods, PhoneType::Mobile).is_none() =>
            {
                Plan::Refuse(Refusal::AlternateMobileRequiresMobile)
            }
            None => Plan::Write(Write::Add),
        },
        Operation::Remove(named) => match current {
            None => Plan::Done(Settled::NotPresent),
            Some(method)
                if named
                    .as_ref()
                    .is_some_and(|number| !number.matches(&method.number)) =>
            {
                Plan::Refuse(Refusal::NumberMismatch {
                    registered: method.number.clone(),
                })
            }
            Some(_)
                if phone_type == PhoneType::Mobile
                    && find(methods, PhoneType::AlternateMobile).is_some() =>
            {
                Plan::Refuse(Refusal::MobileHasAlternate)
            }
            Some(_) => Plan::Write(Write::Remove),
        },
    }
}

/// Finds the user's method of `phone_type`, if they have one.
pub fn find(methods: &[PhoneMethod], phone_type: PhoneType) -> Option<&PhoneMethod> {
    methods
        .iter()
        .find(|method| method.phone_type == phone_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::PhoneNumber;

    const NUMBER: &str = "+49 1701234567";
    const OTHER: &str = "+49 1709876543";

    fn method(phone_type: PhoneType, number: &str) -> PhoneMethod {
        PhoneMethod {
            phone_type,
            number: RegisteredNumber::new(number),
            sms_sign_in_state: None,
        }
    }

    /// What a row of the table asks: to set [`NUMBER`], to remove it, or to remove whatever
    /// number is registered.
    #[derive(Clone, Copy)]
    enum Ask {
        Set,
        Remove,
        RemoveRegistered,
    }

    #[track_caller]
    fn check(ask: Ask, phone_type: PhoneType, methods: &[PhoneMethod], expected: Plan) {
        let number = PhoneNumber::parse(NUMBER).unwrap();
        let operation = match ask {
            Ask::Set => Operation::Set(number),
            Ask::Remove => Operation::Remove(Some(number)),
            Ask::RemoveRegistered => Operation::Remove(None),
        };
        assert_eq!(plan(&operation, phone_type, methods), expected);
    }

    use Ask::{Remove, RemoveRegistered, Set};
    use PhoneType::{AlternateMobile, Mobile, Office};

    #[test]
    fn set_adds_updates_or_leaves_alone() {
        check(Set, Mobile, &[], Plan::Write(Write::Add));
        check(
            Set,
            Mobile,
            &[method(Mobile, OTHER)],
            Plan::Write(Write::Update),
        );
        check(
            Set,
            Mobile,
            &[method(Mobile, "+491701234567")],
            Plan::Done(Settled::Unchanged),
        );
        check(
            Set,
            Office,
            &[method(Mobile, NUMBER)],
            Plan::Write(Write::Add),
        );
        check(
            Set,
            Office,
            &[method(Office, OTHER)],
            Plan::Write(Write::Update),
        );
    }

    #[test]
    fn an_alternate_mobile_needs_a_mobile() {
        check(
            Set,
            AlternateMobile,
            &[],
            Plan::Refuse(Refusal::AlternateMobileRequiresMobile),
        );
        check(
            Set,
            AlternateMobile,
            &[method(Office, OTHER)],
            Plan::Refuse(Refusal::AlternateMobileRequiresMobile),
        );
        check(
            Set,
            AlternateMobile,
            &[method(Mobile, OTHER)],
            Plan::Write(Write::Add),
        );
    }

    #[test]
    fn remove_deletes_only_the_number_it_names() {
        check(Remove, Mobile, &[], Plan::Done(Settled::NotPresent));
        check(
            Remove,
            Mobile,
            &[method(Office, NUMBER)],
            Plan::Done(Settled::NotPresent),
        );
        check(
            Remove,
            Mobile,
            &[method(Mobile, NUMBER)],
            Plan::Write(Write::Remove),
        );
        check(
            Remove,
            Mobile,
            &[method(Mobile, OTHER)],
            Plan::Refuse(Refusal::NumberMismatch {
                registered: RegisteredNumber::new(OTHER),
            }),
        );
        check(
            Remove,
            AlternateMobile,
            &[method(Mobile, OTHER), method(AlternateMobile, NUMBER)],
            Plan::Write(Write::Remove),
        );
    }

    #[test]
    fn the_mobile_cannot_go_while_an_alternate_exists() {
        check(
            Remove,
            Mobile,
            &[method(Mobile, NUMBER), method(AlternateMobile, OTHER)],
            Plan::Refuse(Refusal::MobileHasAlternate),
        );
    }

    #[test]
    fn remove_registered_deletes_whatever_number_is_there_within_graphs_rules() {
        check(
            RemoveRegistered,
            Mobile,
            &[],
            Plan::Done(Settled::NotPresent),
        );
        check(
            RemoveRegistered,
            Mobile,
            &[method(Mobile, OTHER)],
            Plan::Write(Write::Remove),
        );
        check(
            RemoveRegistered,
            Mobile,
            &[method(Mobile, OTHER), method(AlternateMobile, NUMBER)],
            Plan::Refuse(Refusal::MobileHasAlternate),
        );
    }
}
