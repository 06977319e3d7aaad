//! The demo tenant: a handful of users that show every path of the runbook.

use super::tenant::{SimUser, Tenant};
use crate::phone::PhoneType;

/// A user of the demo tenant, for the README and the demo's printed commands.
pub struct DemoUser {
    pub user_principal_name: &'static str,
    pub what_it_shows: &'static str,
}

pub const ADELE: &str = "adele.vance@contoso.example";
pub const MEGAN: &str = "megan.bowen@contoso.example";
pub const ALEX: &str = "alex.wilber@contoso.example";
pub const DIEGO: &str = "diego.siciliani@contoso.example";
pub const LYNNE: &str = "lynne_fabrikam.example#EXT#@contoso.example";
pub const ISAIAH: &str = "isaiah.langer@contoso.example";
/// The mailbox the demo's notifications are sent from.
pub const NOTIFY_SENDER: &str = "it-notify@contoso.example";

/// Megan's mobile number, which she holds for SMS sign-in.
pub const MEGAN_MOBILE: &str = "+49 1701234567";
/// A fresh number for Adele.
pub const ADELE_NEW_MOBILE: &str = "+49 1719876543";
/// A second number, to show an update.
pub const ADELE_OTHER_MOBILE: &str = "+44 7911123456";

/// The users of the demo tenant and what each one shows.
pub const DEMO_USERS: [DemoUser; 6] = [
    DemoUser {
        user_principal_name: ADELE,
        what_it_shows: "no phone yet: set, update, show and remove; works in DE (German mail)",
    },
    DemoUser {
        user_principal_name: MEGAN,
        what_it_shows: "holds +49 170 1234567 for SMS sign-in: setting it for Adele conflicts",
    },
    DemoUser {
        user_principal_name: ALEX,
        what_it_shows: "mobile and alternate mobile: the mobile cannot go first",
    },
    DemoUser {
        user_principal_name: DIEGO,
        what_it_shows: "the mobile is his default method: Graph will not remove it",
    },
    DemoUser {
        user_principal_name: LYNNE,
        what_it_shows: "a B2B guest (UPN with #EXT#)",
    },
    DemoUser {
        user_principal_name: ISAIAH,
        what_it_shows: "owns an app that holds Application.ReadWrite.All: refused (protectedUser)",
    },
];

/// Fills `tenant` with the demo users.
pub fn demo_tenant(tenant: &mut Tenant) {
    tenant.add_user(
        SimUser::member(ADELE, "Adele Vance")
            .with_id("6e7b768e-07e2-4810-8459-485f84f8f204")
            .with_usage_location("DE"),
    );
    tenant.add_user(
        SimUser::member(MEGAN, "Megan Bowen").with_id("48d31887-5fad-4d73-a9f5-3c356e68a038"),
    );
    tenant.seed_phone(MEGAN, PhoneType::Mobile, MEGAN_MOBILE);
    tenant.add_user(
        SimUser::member(ALEX, "Alex Wilber").with_id("87d349ed-44d7-43e1-9a83-5f2406dee5bd"),
    );
    tenant.seed_phone(ALEX, PhoneType::Mobile, "+49 1725550123");
    tenant.seed_phone(ALEX, PhoneType::AlternateMobile, "+49 1735550123");
    let mut diego =
        SimUser::member(DIEGO, "Diego Siciliani").with_id("074e56ea-0b50-4461-89e5-c67ae14a2c0b");
    diego.default_method = Some(PhoneType::Mobile);
    diego.other_methods = vec!["microsoftAuthenticatorAuthenticationMethod".to_owned()];
    tenant.add_user(diego);
    tenant.seed_phone(DIEGO, PhoneType::Mobile, "+49 1765550123");
    tenant.add_user(
        SimUser::guest(LYNNE, "Lynne Robbins").with_id("e8b7e1a0-8c0e-4a5b-9f59-3c1b2d6f7a10"),
    );
    let isaiah = "5c0f2b7e-9d1a-4e6b-8a3c-7f2e1d0c9b8a";
    tenant.add_user(SimUser::member(ISAIAH, "Isaiah Langer").with_id(isaiah));
    let provisioning = tenant.directory.add_app("Contoso HR Provisioning");
    tenant
        .directory
        .grant_graph_permission(&provisioning, "Application.ReadWrite.All");
    if let Some(app) = tenant.directory.app_mut(&provisioning) {
        app.owners.push(isaiah.to_owned());
    }
    tenant.add_user(
        SimUser::member(NOTIFY_SENDER, "IT notifications")
            .with_id("0b1d2c3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"),
    );
}
