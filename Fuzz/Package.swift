// swift-tools-version: 6.1
// The libFuzzer targets live in a package of their own so the main build and
// `swift build --build-tests` never see the sanitizer flags. Build and run them with
// scripts/fuzz.sh; docs/fuzzing.md says what each one covers.
import PackageDescription

let flagstaff = "flagstaff"

let package = Package(
    name: "FlagstaffFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: flagstaff, path: "../")
    ],
    targets: [
        .executableTarget(
            name: "FuzzJSON",
            dependencies: [.product(name: "FlagModel", package: flagstaff)]
        ),
        .executableTarget(
            name: "FuzzYAML",
            dependencies: [.product(name: "FlagCompiler", package: flagstaff)]
        ),
        .executableTarget(
            name: "FuzzRegex",
            dependencies: [.product(name: "FlagEngine", package: flagstaff)]
        ),
        .executableTarget(
            name: "FuzzCompiler",
            dependencies: [
                .product(name: "FlagCompiler", package: flagstaff),
                .product(name: "FlagEngine", package: flagstaff),
                .product(name: "FlagModel", package: flagstaff),
            ]
        ),
        .executableTarget(
            name: "FuzzOFREP",
            dependencies: [
                .product(name: "FlagServer", package: flagstaff),
                .product(name: "FlagCompiler", package: flagstaff),
                .product(name: "FlagModel", package: flagstaff),
            ]
        ),
    ]
)
