import Storage

/// Who is calling the Knaps API: the client behind the bearer token, acting for one user, maybe inside an
/// organisation (where it may be an admin). Visibility and ownership are decided from this alone.
public struct KnapCaller: Sendable, Equatable {
    public var clientId: String
    public var userId: String
    public var org: String?
    public var orgAdmin: Bool

    public init(clientId: String, userId: String, org: String?, orgAdmin: Bool) {
        self.clientId = clientId
        self.userId = userId
        self.org = org
        self.orgAdmin = orgAdmin
    }

    init(client: ClientRecord) {
        self.init(clientId: client.id, userId: client.userId, org: client.org, orgAdmin: client.orgAdmin)
    }

    /// Private knaps are the owner's alone; public ones everyone's; an org's its members'.
    func canSee(_ knap: KnapRecord) -> Bool {
        knap.creationUserId == userId || knap.visibility == Knap.Visibility.public || (org != nil && knap.visibility == org)
    }

    /// The owner, or an admin of the organisation the owner created it in.
    func canChange(_ knap: KnapRecord) -> Bool {
        knap.creationUserId == userId || (orgAdmin && org != nil && knap.ownerOrg == org && canSee(knap))
    }
}
