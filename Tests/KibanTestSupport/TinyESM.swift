import Foundation

/// The tiny ESM-2 the trainer and inference tests train: d 32, 2 layers, 4 heads, feed-forward 64.
public enum TinyESM {
    /// Writes its model YAML to `file`; `hiddenDropout` sets `hidden_dropout_prob` (nil: the config's default).
    public static func writeConfig(to file: URL, hiddenDropout: Double? = nil) throws {
        let dropout = hiddenDropout.map { "\n  hidden_dropout_prob: \($0)" } ?? ""
        try """
            model: esm
            config:
              hidden_size: 32
              num_hidden_layers: 2
              num_attention_heads: 4
              intermediate_size: 64
            """.appending(dropout).appending("\n").write(to: file, atomically: true, encoding: .utf8)
    }
}
