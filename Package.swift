// swift-tools-version: 6.1
import PackageDescription

/// Kiban: scientific foundation models on CPUs, from one core to an MPI cluster.
/// Dependencies point one way: system libraries and C kernels → KibanTensor → higher layers → `kiban`.
let package = Package(
    name: "Kiban",
    products: [
        .library(name: "KibanTensor", targets: ["KibanTensor"]),
        .library(name: "KibanNN", targets: ["KibanNN"]),
        .library(name: "KibanOptim", targets: ["KibanOptim"]),
        .library(name: "KibanModels", targets: ["KibanModels"]),
        .library(name: "KibanData", targets: ["KibanData"]),
        .library(name: "KibanIO", targets: ["KibanIO"]),
        .library(name: "KibanTrain", targets: ["KibanTrain"]),
        .library(name: "KibanDistributed", targets: ["KibanDistributed"]),
        .executable(name: "kiban", targets: ["kiban"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-serial",
            providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .target(name: "KibanKernels", path: "Kernels"),
        .target(name: "KibanTensor", dependencies: ["CBLAS", "KibanKernels"]),
        .target(name: "KibanNN", dependencies: ["KibanTensor", "KibanKernels"]),
        .target(name: "KibanOptim", dependencies: ["KibanTensor", "KibanNN", "KibanKernels"]),
        .target(
            name: "KibanModels", dependencies: ["KibanTensor", "KibanNN", "KibanIO", .product(name: "Yams", package: "Yams")]),
        .target(name: "KibanIO", dependencies: ["KibanTensor", "KibanNN", "KibanOptim", "CHDF5"]),
        .target(name: "KibanDistributed", dependencies: ["CMPI"]),
        .target(
            name: "KibanTrain",
            dependencies: ["KibanTensor", "KibanNN", "KibanOptim", "KibanIO", "KibanData", "KibanModels", .product(name: "Yams", package: "Yams")]),
        .target(name: "KibanData", dependencies: ["KibanTensor", "KibanIO"]),
        .executableTarget(
            name: "kiban",
            dependencies: [
                "KibanTensor", "KibanNN", "KibanOptim", "KibanModels", "KibanIO", "KibanData", "KibanDistributed", "KibanTrain", "CBLAS", "KibanKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(name: "KibanTestSupport", dependencies: ["KibanTensor", "KibanIO"], path: "Tests/KibanTestSupport"),
        .testTarget(
            name: "KibanTensorTests",
            dependencies: ["KibanTensor", "KibanOptim", "KibanIO", "KibanKernels", "KibanTestSupport"]),
        .testTarget(name: "KibanKernelsTests", dependencies: ["KibanKernels"]),
        .testTarget(
            name: "KibanNNTests", dependencies: ["KibanNN", "KibanOptim", "KibanIO", "KibanTensor", "KibanTestSupport"]),
        .testTarget(
            name: "KibanModelsTests",
            dependencies: ["KibanModels", "KibanNN", "KibanOptim", "KibanIO", "KibanTensor", "KibanData", "KibanTestSupport"]),
        .testTarget(name: "KibanSystemTests", dependencies: ["KibanIO", "KibanDistributed"]),
        .testTarget(name: "KibanDataTests", dependencies: ["KibanData", "KibanTensor", "KibanIO", "kiban"]),
        .testTarget(
            name: "KibanTrainTests",
            dependencies: ["KibanTrain", "KibanModels", "KibanNN", "KibanOptim", "KibanIO", "KibanTensor", "KibanData"]),
        .testTarget(name: "KibanIOTests", dependencies: ["KibanIO", "KibanModels", "KibanNN", "KibanOptim", "KibanTensor"]),
    ]
)
