import Foundation

extension RunConfiguration {
    typealias ConfigError = ConfigTree.ConfigError

    /// Reads `path`, applies `overrides` (`key.path=value`), fills the defaults, expands `${KIBAN_DATA}`
    /// (the data folder, see `DataRoot`) and other `${NAME}` environment variables in string values,
    /// and validates. Unknown keys — in the file or in an override — are errors naming the key.
    public static func load(path: String, overrides: [String] = []) throws -> RunConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError("\(path): cannot read the run config")
        }
        return try parse(yaml: text, file: path, overrides: overrides)
    }

    /// As ``load(path:overrides:)`` for YAML text; `file` names it in errors.
    public static func parse(yaml: String, file: String = "<config>", overrides: [String] = []) throws -> RunConfiguration {
        let defaults = try ConfigTree(encoding: RunConfiguration(), keys: .convertToSnakeCase)
        var tree = try ConfigTree.parse(yaml: yaml, file: file)
        try tree.checkKeys(against: defaults, file: file)
        for assignment in overrides {
            var single = ConfigTree()
            try single.set(assignment)
            try single.checkKeys(against: defaults, file: "--set \(assignment)")
            try tree.set(assignment)
        }
        let config = try tree.overlaid(on: defaults, schema: defaults).expandingEnvironment(file: file)
            .decode(RunConfiguration.self, file: file, keys: .convertFromSnakeCase)
        try config.validate(file: file)
        return config
    }

    /// A run config as a checkpoint stores it (JSON, the field names as they are), with this
    /// version's defaults filled in for keys an older Kiban did not write; `file` names it in errors.
    public static func stored(json: String, file: String) throws -> RunConfiguration {
        let defaults = try ConfigTree(encoding: RunConfiguration())
        return try ConfigTree.parse(yaml: json, file: file).overlaid(on: defaults, schema: defaults)
            .decode(RunConfiguration.self, file: file)
    }

    /// Values the types alone do not rule out.
    func validate(file: String) throws {
        let positive: [(String, Int)] = [
            ("train.batch_size", train.batchSize), ("train.accumulation", train.accumulation), ("train.length_bucketing", train.lengthBucketing), ("data.max_length", data.maxLength),
            ("task.num_labels", task.numLabels),
        ]
        for (key, value) in positive where value <= 0 { throw ConfigError("\(file): key '\(key)' must be positive (is \(value))") }
        guard train.epochs > 0 || train.maxSteps > 0 else {
            throw ConfigError("\(file): key 'train.epochs' or 'train.max_steps' must be positive")
        }
        guard (0...2).contains(train.zeroStage) else {
            throw ConfigError("\(file): key 'train.zero_stage' must be 0, 1 or 2 (is \(train.zeroStage))")
        }
        if train.tensorParallel < 1 { throw ConfigError("\(file): key 'train.tensor_parallel' must be positive (is \(train.tensorParallel))") }
        if train.tensorParallel > 1 {
            let conflict = model.family != .esm ? "model.family esm" : lora.enabled ? "lora.enabled false" : train.zeroStage > 0 ? "train.zero_stage 0" : nil
            if let conflict { throw ConfigError("\(file): key 'train.tensor_parallel': splitting the model over ranks needs \(conflict) for now") }
        }
        if !adapter.descriptors.isEmpty {
            guard [.compositionRegression, .compositionClassification].contains(task.kind) else {
                throw ConfigError("\(file): key 'adapter.descriptors': descriptor adapters work with composition tasks so far, not \(task.kind.rawValue)")
            }
            guard adapter.fusion == "projector" else { throw ConfigError("\(file): key 'adapter.fusion': '\(adapter.fusion)' is not projector") }
            guard adapter.tokens > 0, adapter.hidden > 0 else { throw ConfigError("\(file): keys 'adapter.tokens' and 'adapter.hidden' must be positive") }
        }
        guard optimizer.lr > 0, optimizer.lr.isFinite else { throw ConfigError("\(file): key 'optimizer.lr' must be positive") }
        guard ["constant", "warmup-cosine", "warmup-linear"].contains(schedule.kind) else {
            throw ConfigError("\(file): key 'schedule.kind': '\(schedule.kind)' is not constant, warmup-cosine or warmup-linear")
        }
        guard monitor(isOneOf: ["loss", "accuracy", "mae", "rmse", "perplexity"]) else {
            throw ConfigError("\(file): key 'train.monitor': '\(train.monitor)' is not validation_<loss|accuracy|mae|rmse|perplexity>")
        }
        if model.initialize != .scratch && model.path.isEmpty {
            throw ConfigError("\(file): key 'model.path': needed when model.initialize is \(model.initialize.rawValue)")
        }
        if data.maxLength < 3 { throw ConfigError("\(file): key 'data.max_length' must leave room for special tokens (≥ 3)") }
        guard train.precision.isSupported else {
            throw ConfigError(
                "\(file): key 'train.precision': \(train.precision.rawValue) needs a CPU with AVX-512 BF16 (and KIBAN_KERNELS unset or avx512); use float32")
        }
    }

    private func monitor(isOneOf metrics: [String]) -> Bool {
        metrics.contains { "validation_\($0)" == train.monitor }
    }
}
