package api

import "github.com/toscana/sirm/internal/authn"

// Action names what a route does, for the access policy and the audit log.
type Action string

// The actions of the API. Every route that needs a principal has one.
const (
	ActionAuditList   Action = "audit.events.list"
	ActionAuditVerify Action = "audit.verify"

	ActionTokensResolve Action = "tokens.resolve"
	ActionTokensLookup  Action = "tokens.lookup"
	ActionTokensRead    Action = "tokens.read"

	ActionReviewsList   Action = "linkage.reviews.list"
	ActionReviewsDecide Action = "linkage.reviews.decide"
	ActionMergesUndo    Action = "linkage.merges.undo"

	ActionOPRFPublicKey Action = "oprf.public_key"
	ActionOPRFEvaluate  Action = "oprf.evaluate"

	ActionFacilitiesList    Action = "registry.facilities.list"
	ActionFacilitiesRead    Action = "registry.facilities.read"
	ActionFacilitiesHistory Action = "registry.facilities.history"
	ActionFacilitiesCreate  Action = "registry.facilities.create"
	ActionFacilitiesUpdate  Action = "registry.facilities.update"
	ActionFacilitiesSubmit  Action = "registry.facilities.submit"
	ActionFacilitiesReturn  Action = "registry.facilities.return"
	ActionFacilitiesApprove Action = "registry.facilities.approve"
	ActionFacilitiesSuspend Action = "registry.facilities.suspend"
	ActionFacilitiesReopen  Action = "registry.facilities.reopen"
	ActionFacilitiesClose   Action = "registry.facilities.close"
	ActionRegistryCodeLists Action = "registry.code_lists.read"

	ActionCasesCreate         Action = "activity.cases.create"
	ActionCasesList           Action = "activity.cases.list"
	ActionCasesRead           Action = "activity.cases.read"
	ActionCasesUpdate         Action = "activity.cases.update"
	ActionCasesTransfer       Action = "activity.cases.transfer"
	ActionCasesAccept         Action = "activity.cases.accept"
	ActionCasesClose          Action = "activity.cases.close"
	ActionAdmissionsCreate    Action = "activity.admissions.create"
	ActionAdmissionsList      Action = "activity.admissions.list"
	ActionAdmissionsRead      Action = "activity.admissions.read"
	ActionAdmissionsDischarge Action = "activity.admissions.discharge"
	ActionAdmissionsActivity  Action = "activity.admissions.activity"
	ActionMinorsRead          Action = "activity.minors.read"
	ActionEventsList          Action = "activity.events.list"
	ActionConflictsList       Action = "activity.conflicts.list"
	ActionActivityCodeLists   Action = "activity.code_lists.read"
	ActionFlowsSubmit         Action = "activity.sinba_flows.submit"
	ActionReportsList         Action = "reports.list"
	ActionReportsRead         Action = "reports.read"
	ActionExportsSINBA        Action = "exports.sinba"
	ActionExportsMicrodata    Action = "exports.microdata"
)

// Scope limits a grant to the principal's own organisation.
type Scope int

const (
	// ScopeAny: the role may act on any organisation's objects.
	ScopeAny Scope = iota + 1
	// ScopeOwnOrg: the role may act only where the object's organisation is
	// the principal's org; the route compares them (its :org parameter, or
	// the handler via checkOrg).
	ScopeOwnOrg
)

// rule is one action's line of the policy.
type rule struct {
	grants map[authn.Role]Scope
	// personLevel marks actions that touch person-level data or the access
	// log itself: each request is written to the audit log, whatever its
	// outcome.
	personLevel bool
	// write marks actions that change the registry: a success is audited
	// in the change's own transaction, and any other outcome after it.
	write bool
}

// policy is the whole access policy of sirm, DESIGN.md's role table in
// code. Everything not written here is denied.
var policy = map[Action]rule{
	ActionAuditList:   {grants: map[authn.Role]Scope{authn.RoleAuditor: ScopeAny}, personLevel: true},
	ActionAuditVerify: {grants: map[authn.Role]Scope{authn.RoleAuditor: ScopeAny}, personLevel: true},

	// Tokens are always issued in the caller's own domain (its org), so
	// the scope is the caller's by construction.
	ActionTokensResolve: {grants: operators, personLevel: true},
	ActionTokensLookup:  {grants: operators, personLevel: true},
	ActionTokensRead:    {grants: operators, personLevel: true},

	// Stewards see pseudonymous evidence only, of the whole Region.
	ActionReviewsList:   {grants: stewards, personLevel: true},
	ActionReviewsDecide: {grants: stewards, personLevel: true},
	ActionMergesUndo:    {grants: stewards, personLevel: true},

	// Blind mode: an evaluation touches no person, but it is how a caller
	// would walk a dictionary of identities, so each is audited (as a
	// count) and counted against a daily quota.
	ActionOPRFPublicKey: {grants: operators},
	ActionOPRFEvaluate:  {grants: operators, personLevel: true},

	// The registry (ASSO). Facilities are not person-level data: reads
	// are not audited, every write is. Readers other than the Region see
	// active facilities; a facility operator also sees, edits and submits
	// its own (its org is the facility's regional code or draft
	// reference: the service checks it, as ScopeOwnOrg says); the Region
	// decides.
	ActionFacilitiesList:    {grants: registryReaders},
	ActionFacilitiesRead:    {grants: registryReaders},
	ActionFacilitiesHistory: {grants: registryReaders},
	ActionRegistryCodeLists: {grants: registryReaders},
	ActionFacilitiesCreate:  {grants: registryEditors, write: true},
	ActionFacilitiesUpdate:  {grants: registryEditors, write: true},
	ActionFacilitiesSubmit:  {grants: registryEditors, write: true},
	ActionFacilitiesReturn:  {grants: region, write: true},
	ActionFacilitiesApprove: {grants: region, write: true},
	ActionFacilitiesSuspend: {grants: region, write: true},
	ActionFacilitiesReopen:  {grants: region, write: true},
	ActionFacilitiesClose:   {grants: region, write: true},

	// Activity (SINBA and ASMI). Everything is person-level. A service
	// acts on the case files of its zone (the service compares the file's
	// zone with the org; another zone's file is 404), a facility on the
	// stays in its own facility. The minor's view is each operator's own:
	// a service its files and the stays of a minor in its charge, a
	// facility the SINBA summary and its own stays.
	ActionCasesCreate:         {grants: services, personLevel: true, write: true},
	ActionCasesList:           {grants: services, personLevel: true},
	ActionCasesRead:           {grants: services, personLevel: true},
	ActionCasesUpdate:         {grants: services, personLevel: true, write: true},
	ActionCasesTransfer:       {grants: services, personLevel: true, write: true},
	ActionCasesAccept:         {grants: services, personLevel: true, write: true},
	ActionCasesClose:          {grants: services, personLevel: true, write: true},
	ActionFlowsSubmit:         {grants: services, personLevel: true, write: true},
	ActionEventsList:          {grants: services, personLevel: true},
	ActionAdmissionsCreate:    {grants: facilities, personLevel: true, write: true},
	ActionAdmissionsList:      {grants: facilities, personLevel: true},
	ActionAdmissionsRead:      {grants: facilities, personLevel: true},
	ActionAdmissionsDischarge: {grants: facilities, personLevel: true, write: true},
	ActionAdmissionsActivity:  {grants: facilities, personLevel: true, write: true},
	ActionMinorsRead:          {grants: operators, personLevel: true},
	ActionActivityCodeLists:   {grants: operators},
	// Merge conflicts name records by id only.
	ActionConflictsList: {grants: stewards, personLevel: true},
	// Reports are aggregates under disclosure control, not person-level
	// data; a service sees its own zone only (the handler enforces it,
	// as ScopeOwnOrg says). Each report request is logged all the same,
	// with its parameters: the counts derive from minors' records, and
	// what per-table disclosure control cannot see — differencing across
	// dates, zones or tables requested one after another — can only be
	// investigated from the access log. The list of reports is not. The
	// admin is not a reader: DESIGN's table gives it organisations and
	// facility approvals, and the surveys count minors.
	ActionReportsList: {grants: reportReaders},
	ActionReportsRead: {grants: reportReaders, personLevel: true},
	// The SINBA flow for INPS is person-level (one record per minor, under
	// the minor's token in the inps domain): the Region's analysts export
	// any zone or the whole Region, a service its own zone only (the
	// handler enforces it, as ScopeOwnOrg says). Each export is one audit
	// event naming the year, the zone and the count of records.
	ActionExportsSINBA: {grants: exporters, personLevel: true},
	// Research microdata are records of minors (coarse attributes under
	// tokens of a stat-YYYY domain, released only when k-anonymous): for
	// the Region's analysts only, each release audited with its count.
	ActionExportsMicrodata: {grants: researchers, personLevel: true},
}

var researchers = map[authn.Role]Scope{authn.RoleRegionAnalyst: ScopeAny}

var exporters = map[authn.Role]Scope{authn.RoleRegionAnalyst: ScopeAny, authn.RoleServiceOperator: ScopeOwnOrg}

var reportReaders = map[authn.Role]Scope{authn.RoleRegionAnalyst: ScopeAny, authn.RoleServiceOperator: ScopeOwnOrg}

var services = map[authn.Role]Scope{authn.RoleServiceOperator: ScopeOwnOrg}

var facilities = map[authn.Role]Scope{authn.RoleFacilityOperator: ScopeOwnOrg}

var registryReaders = map[authn.Role]Scope{
	authn.RoleServiceOperator: ScopeAny, authn.RoleFacilityOperator: ScopeAny,
	authn.RoleRegionAnalyst: ScopeAny, authn.RoleAdmin: ScopeAny,
}

var registryEditors = map[authn.Role]Scope{authn.RoleFacilityOperator: ScopeOwnOrg, authn.RoleAdmin: ScopeAny}

var region = map[authn.Role]Scope{authn.RoleAdmin: ScopeAny}

var operators = map[authn.Role]Scope{authn.RoleServiceOperator: ScopeOwnOrg, authn.RoleFacilityOperator: ScopeOwnOrg}

var stewards = map[authn.Role]Scope{authn.RoleDataSteward: ScopeAny}

// allows reports whether role may perform action, and in which scope.
func allows(action Action, role authn.Role) (Scope, bool) {
	r, ok := policy[action]
	if !ok {
		return 0, false
	}
	s, ok := r.grants[role]
	return s, ok
}
