// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// Tests import what they use without listing every module a member comes from.
let testSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley", targets: ["parley"]),
        .executable(name: "parley-bench", targets: ["ParleyBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // Domain types, commands, events, configuration, signed file links: Foundation and
        // swift-crypto only (and glibc's allocator settings, which every process applies).
        .target(
            name: "ParleyCore",
            dependencies: ["CMalloc", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),

        // Dedicated threads with wake-up pipes for the blocking C clients (AMQP, Redis).
        .target(
            name: "ParleyIOThread",
            dependencies: [.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "ParleyStore",
            dependencies: [
                "ParleyCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationEssentialsCompat", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .systemLibrary(
            name: "CRabbitMQSystem",
            path: "Sources/CRabbitMQ/system",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .target(name: "CRabbitMQ", dependencies: ["CRabbitMQSystem"], exclude: ["system"]),
        .target(
            name: "ParleyQueue",
            dependencies: [
                "ParleyCore", "ParleyIOThread", "CRabbitMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        .systemLibrary(
            name: "CHiredisSystem",
            path: "Sources/CHiredis/system",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(name: "CHiredis", dependencies: ["CHiredisSystem"], exclude: ["system"]),
        .target(
            name: "ParleyPubSub",
            dependencies: [
                "ParleyCore", "ParleyIOThread", "CHiredis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        .systemLibrary(
            name: "CVipsSystem",
            path: "Sources/CVips/system",
            pkgConfig: "vips",
            providers: [.apt(["libvips-dev"])]
        ),
        .target(name: "CVips", dependencies: ["CVipsSystem"], exclude: ["system"]),
        .systemLibrary(
            name: "CMagic",
            path: "Sources/CMagic",
            pkgConfig: "libmagic",
            providers: [.apt(["libmagic-dev"])]
        ),
        .target(
            name: "ParleyMedia",
            dependencies: [
                "ParleyCore", "CVips", "CMagic",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Engine.IO v4 + Socket.IO v5; knows nothing of chat.
        .target(
            name: "SocketIO",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "ParleyGateway",
            dependencies: [
                "ParleyCore", "ParleyIOThread", "ParleyStore", "ParleyQueue", "ParleyPubSub", "SocketIO",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Compiled into the binary: the gateway serves it wherever the binary is installed.
            resources: [.embedInCode("OpenAPI/openapi.yaml")],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "MessageWorker",
            dependencies: [
                "ParleyCore", "ParleyStore", "ParleyQueue", "ParleyPubSub",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Workers/MessageWorker",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "PresenceWorker",
            dependencies: [
                "ParleyCore", "ParleyStore", "ParleyQueue", "ParleyPubSub",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Workers/PresenceWorker",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "MediaWorker",
            dependencies: [
                "ParleyCore", "ParleyStore", "ParleyQueue", "ParleyPubSub", "ParleyMedia",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Workers/MediaWorker",
            swiftSettings: swiftSettings
        ),

        // Scheduled clean-up of uploads: staged files never attached, stored files no message uses.
        .target(
            name: "Maintenance",
            dependencies: [
                "ParleyCore", "ParleyStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Workers/Maintenance",
            swiftSettings: swiftSettings
        ),

        // `parley loadtest`: users on Socket.IO sockets at a target rate, latencies in HdrHistograms.
        .target(
            name: "ParleyLoadTest",
            dependencies: [
                "SocketIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "parley",
            dependencies: [
                "ParleyCore", "ParleyStore", "ParleyQueue", "ParleyPubSub", "ParleyGateway", "MessageWorker", "PresenceWorker", "MediaWorker", "Maintenance", "ParleyLoadTest", "SocketIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Measurements of hot paths against the real services; run by hand, never by `make test`.
        .executableTarget(
            name: "ParleyBench",
            dependencies: [
                "ParleyCore", "ParleyStore", "ParleyQueue", "ParleyPubSub", "ParleyMedia", "MessageWorker", "PresenceWorker", "SocketIO", "ParleyLoadTest",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Benchmarks/ParleyBench",
            swiftSettings: swiftSettings
        ),

        // Reaches the real services for the integration tests; not shipped.
        .target(
            name: "ParleyTestSupport",
            dependencies: [
                "ParleyCore", "ParleyStore", "ParleyQueue", "ParleyPubSub",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/ParleyTestSupport",
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "ParleyCoreTests", dependencies: ["ParleyCore", "CMalloc"], swiftSettings: testSettings),
        .testTarget(
            name: "SocketIOTests",
            dependencies: [
                "SocketIO",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "ParleyStoreTests",
            dependencies: ["ParleyStore", "ParleyTestSupport", .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: testSettings
        ),
        .testTarget(name: "ParleyQueueTests", dependencies: ["ParleyQueue", "ParleyTestSupport"], swiftSettings: testSettings),
        .testTarget(name: "ParleyPubSubTests", dependencies: ["ParleyPubSub", "CHiredis", "ParleyTestSupport"], swiftSettings: testSettings),
        .testTarget(
            name: "ParleyMediaTests",
            dependencies: ["ParleyMedia", "ParleyTestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "MessageWorkerTests",
            dependencies: [
                "MessageWorker", "ParleyStore", "ParleyQueue", "ParleyPubSub", "ParleyTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "PresenceWorkerTests",
            dependencies: [
                "PresenceWorker", "ParleyStore", "ParleyQueue", "ParleyPubSub", "ParleyTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "ParleyGatewayTests",
            dependencies: [
                "ParleyGateway", "MessageWorker", "PresenceWorker", "MediaWorker", "Maintenance", "ParleyMedia", "ParleyTestSupport", "SocketIO",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "ParleyLoadTestTests",
            dependencies: [
                "ParleyLoadTest", "SocketIO",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: testSettings
        ),
        // Runs the built `parley` executable, so it depends on it.
        .testTarget(
            name: "ParleyCLITests",
            dependencies: ["parley", "ParleyTestSupport", "SocketIO", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: testSettings),
    ]
)
