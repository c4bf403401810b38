// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "flagstaff",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "flagstaff", targets: ["flagstaff"]),
        .library(name: "FlagModel", targets: ["FlagModel"]),
        .library(name: "FlagCompiler", targets: ["FlagCompiler"]),
        .library(name: "FlagEngine", targets: ["FlagEngine"]),
        .library(name: "FlagDiff", targets: ["FlagDiff"]),
        .library(name: "GitSource", targets: ["GitSource"]),
        .library(name: "UnleashImport", targets: ["UnleashImport"]),
        .library(name: "FlagStore", targets: ["FlagStore"]),
        .library(name: "FlagBus", targets: ["FlagBus"]),
        .library(name: "FlagServer", targets: ["FlagServer"]),
        .library(name: "FlagNotify", targets: ["FlagNotify"]),
        .library(name: "FlagDaemon", targets: ["FlagDaemon"]),
        // Usage, stale-flag and experiment reports over the analytics tables (SPEC §15).
        .library(name: "FlagAnalytics", targets: ["FlagAnalytics"]),
        // Local evaluation in a Swift application (SPEC §16).
        .library(name: "FlagstaffSDK", targets: ["FlagstaffSDK"]),
        // The C interface (include/flagstaff.h). SwiftPM builds and tests it as a module;
        // libflagstaff.so, which needs no Swift installed, is scripts/build-libflagstaff.sh's.
        .library(name: "FlagstaffC", targets: ["FlagstaffC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // No default traits: swift-configuration support is not needed and costs build time.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Already in the graph through HummingbirdTLS; named to check a certificate and key at start.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // Outbound notifications: the usual server-side HTTP client, on the NIO and NIOSSL the
        // server already links, with connection pooling, timeouts and TLS to webhook receivers.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Management callers may present JWTs (SPEC §14): RS256/ES256 signatures checked against a
        // JWKS, with the claim checks done by a maintained library instead of by hand.
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
    ],
    targets: [
        // MARK: System libraries (Debian: libyaml-dev libgit2-dev libpq-dev libhiredis-dev)
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),

        // MARK: Core
        .target(name: "FlagModel"),
        .target(
            name: "FlagCompiler",
            dependencies: [
                "FlagModel", "FlagEngine", "CYAML",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "FlagEngine", dependencies: ["FlagModel"]),
        .target(name: "FlagDiff", dependencies: ["FlagModel", "FlagEngine"]),
        .target(name: "GitSource", dependencies: ["CGit2", "FlagCompiler"]),
        .target(name: "UnleashImport", dependencies: ["FlagModel", "FlagCompiler", "FlagEngine"]),
        .target(
            name: "FlagStore",
            dependencies: ["CLibPQ", "FlagModel", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "FlagBus", dependencies: ["CHiredis"]),
        .target(name: "FlagAnalytics", dependencies: ["FlagModel", "FlagEngine", "FlagStore"]),
        .target(
            name: "FlagServer",
            dependencies: [
                "FlagModel", "FlagEngine", "FlagStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "FlagNotify",
            dependencies: [
                "FlagModel", "FlagDiff", "FlagStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "FlagDaemon",
            dependencies: [
                "FlagModel", "FlagCompiler", "FlagEngine", "FlagDiff", "GitSource", "FlagStore", "FlagBus", "FlagServer",
                "FlagNotify", "FlagAnalytics", "FlagManage", "FlagAccess",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Who calls the management API when it is not a key: JWT bearer tokens checked against a JWKS.
        .target(
            name: "FlagAccess",
            dependencies: [
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The management API (SPEC §14): its routes, and writes as Git commits.
        .target(
            name: "FlagManage",
            dependencies: [
                "FlagModel", "FlagCompiler", "FlagEngine", "FlagDiff", "GitSource", "FlagStore", "FlagServer",
                "FlagAccess",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(name: "FlagstaffC", dependencies: ["FlagModel", "FlagEngine"]),
        .executableTarget(
            name: "flagstaff",
            dependencies: [
                "FlagModel", "FlagCompiler", "FlagEngine", "FlagDiff", "GitSource", "UnleashImport", "FlagStore",
                "FlagBus", "FlagServer", "FlagDaemon", "FlagNotify", "FlagAnalytics", "FlagAccess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Tests
        .testTarget(name: "FlagModelTests", dependencies: ["FlagModel"]),
        .testTarget(name: "FlagCompilerTests", dependencies: ["FlagCompiler", "FlagEngine", "FlagModel"]),
        .testTarget(name: "FlagEngineTests", dependencies: ["FlagEngine", "FlagCompiler", "FlagModel"]),
        .testTarget(name: "FlagDiffTests", dependencies: ["FlagDiff", "FlagCompiler", "FlagEngine", "FlagModel"]),
        .testTarget(name: "GitSourceTests", dependencies: ["GitSource", "FlagCompiler", "FlagEngine", "FlagModel"]),
        .testTarget(name: "FlagStoreTests", dependencies: ["FlagStore", "FlagModel"]),
        .testTarget(
            name: "FlagAnalyticsTests", dependencies: ["FlagAnalytics", "FlagStore", "FlagModel", "FlagCompiler"]),
        .target(
            name: "FlagstaffSDK",
            dependencies: [
                "FlagModel", "FlagEngine",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The example application of docs/sdk.md: a Hummingbird service that runs the client in
        // its ServiceGroup. Built with everything else, so it cannot rot.
        .executableTarget(
            name: "flagstaff-sdk-example",
            dependencies: [
                "FlagstaffSDK", "FlagModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "examples/swift-sdk"
        ),
        .testTarget(name: "FlagBusTests", dependencies: ["FlagBus"]),
        .testTarget(
            name: "FlagManageTests",
            dependencies: ["FlagManage", "GitSource", "FlagCompiler", "FlagModel", "FlagServer"]
        ),
        .testTarget(
            name: "FlagAccessTests",
            dependencies: [
                "FlagAccess",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                // RSA key generation for test tokens (_RSA.Signing.PrivateKey); jwt-kit cannot make one.
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "FlagstaffSDKTests", dependencies: ["FlagstaffSDK", "FlagCompiler", "FlagEngine", "FlagModel"]),
        .testTarget(
            name: "FlagServerTests",
            dependencies: [
                "FlagServer", "FlagModel", "FlagEngine", "FlagCompiler",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "FlagDaemonTests",
            dependencies: [
                "FlagDaemon", "FlagStore", "FlagBus", "GitSource", "FlagModel", "FlagCompiler", "FlagNotify", "FlagstaffSDK",
                .product(name: "Crypto", package: "swift-crypto"),
                // Real JWTs for the management API's token tests.
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        .testTarget(
            name: "FlagNotifyTests",
            dependencies: ["FlagNotify", "FlagModel", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "SystemLibrariesTests", dependencies: ["CYAML", "CGit2", "CLibPQ", "CHiredis"]),
        .testTarget(
            name: "CLITests",
            dependencies: ["FlagModel", "UnleashImport", "FlagStore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "UnleashImportTests", dependencies: ["UnleashImport", "FlagCompiler", "FlagEngine", "FlagModel"]),
        .testTarget(name: "VectorTests", dependencies: ["FlagCompiler", "FlagEngine", "FlagModel", "UnleashImport"]),
        .testTarget(name: "FlagstaffCTests", dependencies: ["FlagstaffC", "FlagEngine", "FlagModel"]),
    ]
)

// Warning-free, and kept so: a warning in Flagstaff's own code fails the build.
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
}
