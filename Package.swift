// swift-tools-version: 6.1
import PackageDescription

/// Kiban: scientific foundation models on CPUs, from one core to an MPI cluster.
///
/// Layers, each depending only on layers above it in this list (see the README's Architecture):
/// system libraries (CBLAS, CHDF5, CMPI) and C kernels → KibanTensor → KibanFormats → KibanNN →
/// KibanOptim → KibanData → KibanModels → KibanTrain → `kiban`. KibanDistributed sits on CMPI
/// alone until training uses it; KibanEval (metrics, bootstrap intervals) on Foundation alone.
let package = Package(
    name: "Kiban",
    products: [
        .library(name: "KibanTensor", targets: ["KibanTensor"]),
        .library(name: "KibanFormats", targets: ["KibanFormats"]),
        .library(name: "KibanNN", targets: ["KibanNN"]),
        .library(name: "KibanOptim", targets: ["KibanOptim"]),
        .library(name: "KibanData", targets: ["KibanData"]),
        .library(name: "KibanModels", targets: ["KibanModels"]),
        .library(name: "KibanTrain", targets: ["KibanTrain"]),
        .library(name: "KibanInfer", targets: ["KibanInfer"]),
        .library(name: "KibanEval", targets: ["KibanEval"]),
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
        .target(name: "KibanKernels", path: "Kernels", exclude: ["tests"]),
        .target(name: "KibanTensor", dependencies: ["CBLAS", "KibanKernels"]),
        .target(name: "KibanFormats", dependencies: ["KibanTensor", "CHDF5"]),
        .target(name: "KibanNN", dependencies: ["KibanTensor", "KibanKernels", "KibanDistributed"]),
        .target(name: "KibanOptim", dependencies: ["KibanTensor", "KibanNN", "KibanKernels"]),
        .target(name: "KibanData", dependencies: ["KibanTensor", "KibanFormats"]),
        .target(
            name: "KibanModels",
            dependencies: ["KibanTensor", "KibanFormats", "KibanNN", .product(name: "Yams", package: "Yams")]),
        .target(
            name: "KibanTrain",
            dependencies: [
                "KibanTensor", "KibanKernels", "KibanFormats", "KibanNN", "KibanOptim", "KibanData", "KibanModels",
                "KibanDistributed", .product(name: "Yams", package: "Yams"),
            ]),
        .target(
            name: "KibanInfer",
            dependencies: ["KibanTensor", "KibanFormats", "KibanNN", "KibanData", "KibanModels", "KibanTrain", "KibanDistributed"]),
        .target(
            name: "KibanEval",
            dependencies: ["KibanData", "KibanFormats", "KibanInfer", "KibanTrain"]),
        .target(name: "KibanDistributed", dependencies: ["CMPI"]),
        .executableTarget(
            name: "kiban",
            dependencies: [
                "CBLAS", "KibanKernels", "KibanTensor", "KibanNN", "KibanOptim", "KibanData", "KibanModels", "KibanTrain",
                "KibanInfer", "KibanEval", "KibanDistributed", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(
            name: "KibanTestSupport", dependencies: ["KibanTensor", "KibanFormats", "KibanData"], path: "Tests/KibanTestSupport"),
        .testTarget(name: "KibanKernelsTests", dependencies: ["KibanKernels"]),
        .testTarget(
            name: "KibanInferTests",
            dependencies: ["KibanInfer", "KibanTrain", "KibanModels", "KibanData", "KibanFormats", "KibanTensor", "KibanNN", "KibanTestSupport"]),
        .testTarget(
            name: "KibanTensorTests",
            dependencies: ["CBLAS", "KibanTensor", "KibanFormats", "KibanNN", "KibanOptim", "KibanKernels", "KibanTestSupport"]),
        .testTarget(name: "KibanFormatsTests", dependencies: ["KibanFormats", "KibanTensor"]),
        .testTarget(
            name: "KibanNNTests", dependencies: ["KibanNN", "KibanOptim", "KibanFormats", "KibanTensor", "KibanTestSupport"]),
        .testTarget(
            name: "KibanDataTests", dependencies: ["KibanData", "KibanTensor", "KibanFormats", "KibanTestSupport", "kiban"]),
        .testTarget(
            name: "KibanModelsTests",
            dependencies: [
                "KibanModels", "KibanNN", "KibanOptim", "KibanFormats", "KibanTensor", "KibanData", "KibanTestSupport",
            ]),
        .testTarget(
            name: "KibanTrainTests",
            dependencies: [
                "KibanTrain", "KibanModels", "KibanNN", "KibanOptim", "KibanFormats", "KibanTensor", "KibanData", "KibanTestSupport",
            ]),
        .testTarget(name: "KibanEvalTests", dependencies: ["KibanEval", "KibanInfer", "KibanTrain"]),
        .testTarget(name: "KibanSystemTests", dependencies: ["KibanFormats", "KibanDistributed", "KibanData", "KibanTestSupport"]),
    ]
)
