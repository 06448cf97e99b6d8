import Foundation

/// A user as clients see it (`shared/api.md`); never carries a password or hash.
public struct User: Codable, Sendable, Equatable {
    public var id: UUID
    public var firstName: String
    public var lastName: String
    public var email: String
    public var image: String?
    public var isOnline: Bool
    /// `nil` to others when the user hides it.
    public var lastSeen: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UUID, firstName: String, lastName: String, email: String, image: String?,
        isOnline: Bool, lastSeen: Date?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.firstName = firstName
        self.lastName = lastName
        self.email = email
        self.image = image
        self.isOnline = isOnline
        self.lastSeen = lastSeen
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    // Encoded by hand so that `image` and `lastSeen` appear as `null` rather than vanish.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id.lowercased, forKey: .id)
        try c.encode(firstName, forKey: .firstName)
        try c.encode(lastName, forKey: .lastName)
        try c.encode(email, forKey: .email)
        try c.encode(image, forKey: .image)
        try c.encode(isOnline, forKey: .isOnline)
        try c.encode(lastSeen, forKey: .lastSeen)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
    }
}
