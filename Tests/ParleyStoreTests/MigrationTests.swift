import ParleyStore
import ParleyTestSupport
import PostgresNIO
import XCTest

final class MigrationTests: XCTestCase {
    func testMigrationsAreRecordedAndApplyingAgainChangesNothing() async throws {
        try await TestServices.withDatabase { database in
            // withDatabase has migrated already: a second run finds nothing to do.
            let applied = try await Migrations.apply(on: database)
            XCTAssertEqual(applied, [])
            let rows = try await database.client.query("SELECT max(version) FROM schema_migrations", logger: TestServices.logger("t"))
            for try await version in rows.decode(Int.self) {
                XCTAssertEqual(version, Migrations.latestVersion)
            }
        }
    }

    func testConcurrentMigrationRunsDoNotCollide() async throws {
        try await TestServices.withDatabase { database in
            try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 { group.addTask { try await Migrations.apply(on: database) } }
                for try await applied in group { XCTAssertEqual(applied, []) }
            }
        }
    }
}
