// swift-tools-version: 6.1
// Benchmarks live in a package of their own so the main build and CI never compile them.
import PackageDescription

let package = Package(
    name: "FlagstaffBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "flagstaff", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .target(name: "BenchmarkFixtures", dependencies: [.product(name: "FlagModel", package: "flagstaff")]),
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: [
                "BenchmarkFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "FlagEngine", package: "flagstaff"),
                .product(name: "FlagCompiler", package: "flagstaff"),
                .product(name: "FlagModel", package: "flagstaff"),
                .product(name: "GitSource", package: "flagstaff"),
            ],
            path: "Benchmarks/EngineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "SDKBenchmarks",
            dependencies: [
                "BenchmarkFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "FlagstaffSDK", package: "flagstaff"),
                .product(name: "FlagEngine", package: "flagstaff"),
                .product(name: "FlagCompiler", package: "flagstaff"),
                .product(name: "FlagModel", package: "flagstaff"),
            ],
            path: "Benchmarks/SDKBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "EngineProfile",
            dependencies: [
                "BenchmarkFixtures",
                .product(name: "GitSource", package: "flagstaff"),
                .product(name: "FlagEngine", package: "flagstaff"),
                .product(name: "FlagCompiler", package: "flagstaff"),
                .product(name: "FlagModel", package: "flagstaff"),
            ]
        ),
    ]
)
