import Foundation
import KibanFormats
import KibanModels
import KibanNN
import KibanTensor
import KibanTestSupport
import Testing

/// Two PEFT adapters that each bring their own `lm_head.layer_norm` (`Tests/Fixtures/peft_modules_to_save`,
/// made by `make_peft_fixture.py`): Kiban keeps one copy per adapter, switches heads with the
/// adapter, and saves and loads each adapter's copy under PEFT's key names.
@Suite("modules_to_save per adapter as PEFT")
struct PEFTModulesToSaveTests {
    static let folder = PEFTFixtureTests.fixtures.appendingPathComponent("peft_modules_to_save")
    static var reference: SafeTensorsFile { get throws { try SafeTensorsFile(contentsOf: folder.appendingPathComponent("logits.safetensors")) } }

    /// The esm_mlm fixture's model, in evaluation mode, with the adapters in `folder/<name>` loaded as `name`.
    func esm(loading names: [String] = ["x", "y"], from folder: URL = folder) throws -> EsmForMaskedLM {
        let base = try ModelFixture("esm_mlm")
        let model = EsmForMaskedLM(try base.config(EsmConfig.self), generator: RandomGenerator(seed: 0))
        try model.load(stateDict: base.stateDict())
        for name in names { try PEFTAdapterFolder.load(into: model, from: folder.appendingPathComponent(name), name: name) }
        model.eval()
        return model
    }

    @Test func switchingAdaptersSwitchesHeadsAsInPEFT() throws {
        let model = try esm()
        #expect(model.layerNorm.adapterCopies?.adapterNames == ["x", "y"])
        var heads: [[Float]] = []
        for name in ["x", "y", "x"] {
            try model.setActiveAdapter(name)
            let worst = try PEFTFixtureTests.expectLogits(of: model, on: try Self.reference, key: "logits.\(name)")
            print("modules_to_save, adapter \(name) active: logits max |Δ| \(worst)")
            heads.append(model.layerNorm.weight.value.toArray())
        }
        #expect(heads[0] != heads[1] && heads[2] == heads[0], "each adapter has its own head; switching back restores x's")
    }

    /// Each adapter's folder as Kiban writes it holds exactly PEFT's tensors, and loads back.
    @Test func eachAdapterSavesAndLoadsItsOwnHead() throws {
        let model = try esm()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("kiban-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        for name in ["x", "y"] {
            let peftFolder = Self.folder.appendingPathComponent(name)
            let configuration = LoRAConfiguration(rank: 2, alpha: 4)
            try PEFTAdapterFolder.save(model: model, configuration: configuration, name: name, to: output.appendingPathComponent(name))
            let ours = try SafeTensorsFile(contentsOf: output.appendingPathComponent("\(name)/adapter_model.safetensors"))
            let peft = try SafeTensorsFile(contentsOf: peftFolder.appendingPathComponent("adapter_model.safetensors"))
            #expect(Set(ours.entries.keys) == Set(peft.entries.keys))
            for key in peft.entries.keys where ours.entries[key] != nil {
                #expect(try ours.doubles(key).values == peft.doubles(key).values, "\(name): \(key)")
            }
            let fields = try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent("\(name)/adapter_config.json"))) as? [String: Any]
            #expect(fields?["modules_to_save"] as? [String] == ["lm_head.layer_norm"])
        }
        let reloaded = try esm(from: output)
        for name in ["y", "x"] {
            try reloaded.setActiveAdapter(name)
            _ = try PEFTFixtureTests.expectLogits(of: reloaded, on: try Self.reference, key: "logits.\(name)")
        }
    }

    @Test func deletingAnAdapterKeepsTheOthersHead() throws {
        let plain = try esm(loading: [])
        let model = try esm()
        let reference = try Self.reference
        let ids = try reference.indices("input.input_ids")
        let mask = Tensor(shape: ids.shape, values: try reference.indices("input.attention_mask").values.map(Float.init))
        try model.setActiveAdapter("y")
        try model.deleteAdapter("x")
        #expect(model.layerNorm.adapterCopies?.adapterNames == ["y"])
        _ = try PEFTFixtureTests.expectLogits(of: model, on: reference, key: "logits.y")
        try model.deleteAdapter("y")
        #expect(model.layerNorm.adapterCopies == nil)
        #expect(Set(model.stateDict().keys) == Set(plain.stateDict().keys), "the model's own key names are back")
        #expect(model(ids, attentionMask: mask).toArray() == plain(ids, attentionMask: mask).toArray())
    }
}
