//! Graph's JSON, exactly as far as we read and write it. Private to the graph module: every
//! other module sees the domain types the client converts these into.

use serde::{Deserialize, Serialize};

/// `GET /users/{id}?$select=id,userPrincipalName,displayName,userType,accountEnabled,mail,usageLocation`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
    pub user_type: Option<String>,
    pub account_enabled: Option<bool>,
    pub mail: Option<String>,
    pub usage_location: Option<String>,
}

/// An entry of `GET /organization?$select=displayName`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub display_name: Option<String>,
}

/// `POST /users/{sender}/sendMail`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMail<'a> {
    pub message: MailMessage<'a>,
    pub save_to_sent_items: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailMessage<'a> {
    pub subject: &'a str,
    pub body: MailBody<'a>,
    pub to_recipients: Vec<Recipient<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailBody<'a> {
    /// `HTML` or `Text`.
    pub content_type: &'a str,
    pub content: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient<'a> {
    pub email_address: EmailAddress<'a>,
}

#[derive(Debug, Serialize)]
pub struct EmailAddress<'a> {
    pub address: &'a str,
}

/// A page of a collection (`value` plus the link to the next page).
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
}

/// One `phoneAuthenticationMethod`. `phoneType` is an evolvable enum, so it stays a string
/// here and unknown values are skipped on conversion.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneMethod {
    pub phone_number: Option<String>,
    pub phone_type: Option<String>,
    pub sms_sign_in_state: Option<String>,
}

/// The body of POST and PATCH on phoneMethods. `smsSignInState` is read-only and never sent.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneMethodWrite<'a> {
    pub phone_number: &'a str,
    pub phone_type: &'a str,
}

/// Graph's error body: `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// `POST /$batch`.
#[derive(Debug, Serialize)]
pub struct BatchRequest<'a> {
    pub requests: Vec<BatchItem<'a>>,
}

#[derive(Debug, Serialize)]
pub struct BatchItem<'a> {
    pub id: String,
    pub method: &'a str,
    /// Relative to the version root: `/users/{id}/authentication/phoneMethods`.
    pub url: String,
}

#[derive(Debug, Deserialize)]
pub struct BatchResponse {
    pub responses: Vec<BatchItemResponse>,
}

#[derive(Debug, Deserialize)]
pub struct BatchItemResponse {
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub headers: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub body: serde_json::Value,
}

/// A row of `/reports/authenticationMethods/userRegistrationDetails`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationDetail {
    pub id: String,
    pub user_principal_name: Option<String>,
    pub user_display_name: Option<String>,
}

/// A role definition (`/beta/roleManagement/directory/roleDefinitions`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    pub id: String,
    pub display_name: Option<String>,
    pub template_id: Option<String>,
}

/// A role assignment or an eligibility schedule instance: who holds which role, with the
/// principal expanded when Graph honours `$expand=principal`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleHolding {
    pub principal_id: String,
    pub role_definition_id: String,
    pub principal: Option<DirectoryObject>,
}

/// A directory object as `$expand` returns it.
#[derive(Debug, Deserialize)]
pub struct DirectoryObject {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub id: Option<String>,
    #[serde(rename = "displayName")]
    pub display_name: Option<String>,
}

/// `POST /users/{id}/checkMemberGroups`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckMemberGroups<'a> {
    pub group_ids: &'a [String],
}

/// One PIM for Groups eligibility (membership or ownership) as
/// `identityGovernance/privilegedAccess/group/eligibilityScheduleInstances` lists it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupEligibility {
    pub principal_id: String,
}

/// A directory object of which only the id was selected.
#[derive(Debug, Deserialize)]
pub struct IdOnly {
    pub id: String,
}

/// The answer of `checkMemberGroups`: the ids the user is a member of.
#[derive(Debug, Deserialize)]
pub struct IdList {
    pub value: Vec<String>,
}

/// One entry of `GET /users/{id}/authentication/methods`: any kind of method, told apart by
/// `@odata.type`; phone entries carry the phone fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationMethod {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub phone_number: Option<String>,
    pub phone_type: Option<String>,
    pub sms_sign_in_state: Option<String>,
}

/// The SMS or Voice configuration of the Authentication methods policy.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodConfiguration {
    pub state: Option<String>,
    #[serde(default)]
    pub include_targets: Vec<MethodTarget>,
    #[serde(default)]
    pub exclude_targets: Vec<MethodTarget>,
    /// Voice only.
    pub is_office_phone_allowed: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodTarget {
    pub id: String,
    /// `user` or `group` (Graph may add values).
    pub target_type: Option<String>,
    /// SMS include targets only.
    pub is_usable_for_sign_in: Option<bool>,
}

/// `GET /servicePrincipals(appId='…')?$select=id,appRoles`: Graph's service principal.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceServicePrincipal {
    pub id: String,
    #[serde(default)]
    pub app_roles: Vec<AppRole>,
}

/// One app role a resource defines (for Graph: one application permission).
#[derive(Debug, Deserialize)]
pub struct AppRole {
    pub id: String,
    pub value: Option<String>,
}

/// One grant of an app role (`appRoleAssignedTo`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleGrant {
    pub principal_id: String,
    pub principal_type: Option<String>,
    pub app_role_id: String,
}

/// A service principal as `$select=id,appId,displayName` gives it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    pub id: String,
    pub app_id: Option<String>,
    pub display_name: Option<String>,
}
