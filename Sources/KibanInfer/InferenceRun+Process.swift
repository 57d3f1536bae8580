import Foundation
import KibanData
import KibanModels
import KibanNN
import KibanTensor
import KibanTrain

// Dim legend: n tokens of one sequence (special tokens included), C hidden size, L labels, E element slots.

extension InferenceRun {
    /// Computes every output for one chunk of records and writes it in input order. Under `mpirun`
    /// rank r computes the records at positions r, r + ranks, …; the ranks exchange their rows and
    /// rank 0 writes them all.
    func process(_ chunk: [PreparedRecord], outputs: InferenceOutputs, variants: VariantTable?) throws {
        let (rank, ranks) = (communicator.rank, communicator.size)
        var rows = try compute(chunk, positions: Set(stride(from: rank, to: chunk.count, by: ranks)), outputs: outputs, variants: variants)
        if ranks > 1 {
            let parts = communicator.allGather(bytes: rows.encoded())
            rows = ChunkRows()
            for part in parts { rows.merge(try ChunkRows(decoding: part)) }
        }
        if rank == 0 { try write(rows, count: chunk.count, outputs: outputs) }
    }

    /// The rows of the records at `positions` of `chunk` that the outputs still need. Every record's
    /// variants are looked up (so the check that each named id was seen holds on every rank).
    func compute(_ chunk: [PreparedRecord], positions: Set<Int>, outputs: InferenceOutputs, variants: VariantTable?) throws -> ChunkRows {
        var rows = ChunkRows()
        let mine = positions.sorted()
        let predictionRows = { (raw: [[Float]]) in
            for (position, values) in zip(mine, raw) where outputs.needs(.predictions, chunk[position].record.id) {
                rows.predictions[position] = (chunk[position].record.id, self.predictionValues(values, tokens: chunk[position].tokens.count))
            }
        }
        if model.composition != nil {
            if options.predictions != nil { predictionRows(compositionOutputs(mine.map { chunk[$0] })) }
            return rows
        }
        let last = model.encoder!.hiddenLayerCount
        var wanted = options.embeddings != nil ? Set(embeddingKeys.map(\.layer)) : []
        if options.predictions != nil { wanted.insert(last) }
        if !wanted.isEmpty {
            let pass = EncoderPass(
                encoder: model.encoder!, padID: model.padID, limit: limit, batching: options.batching, layout: options.layout)
            let encoded = pass.encode(mine.map { chunk[$0].tokens }, layers: wanted)
            if options.embeddings != nil {
                for (position, sequence) in zip(mine, encoded) where outputs.needs(.embeddings, chunk[position].record.id) {
                    rows.embeddings[position] = embeddings(of: sequence, id: chunk[position].record.id)
                }
            }
            if options.predictions != nil { predictionRows(encoded.map { headOutputs(of: $0, layer: last) }) }
        }
        if options.scores != nil {
            for (position, prepared) in chunk.enumerated() {
                let listed = try variants?.variants(for: prepared.record)
                guard positions.contains(position), outputs.needs(.scores, prepared.record.id) else { continue }
                rows.scores[position] = try listed.map { try mutationRows(prepared, variants: $0) } ?? [try pseudoLikelihoodRow(prepared)]
            }
        }
        return rows
    }

    /// Appends a chunk's rows to the open outputs in input order.
    func write(_ rows: ChunkRows, count: Int, outputs: InferenceOutputs) throws {
        try outputs.embeddings?.append((0..<count).compactMap { rows.embeddings[$0] })
        try outputs.predictions?.append((0..<count).compactMap { rows.predictions[$0] })
        try outputs.scores?.append((0..<count).flatMap { rows.scores[$0] ?? [] })
    }

    // MARK: Embeddings

    /// The requested embeddings of one sequence (special tokens at positions 0 and n − 1).
    func embeddings(of sequence: EncodedSequence, id: String) -> SequenceEmbeddings {
        let n = sequence.tokens.count, width = sequence.width
        var values: [EmbeddingKey: [Float]] = [:]
        for key in embeddingKeys {
            let states = sequence.states[key.layer]!
            switch key.kind {
            case .bos: values[key] = Array(states[0..<width])
            case .perToken: values[key] = Array(states[width..<((n - 1) * width)])
            case .mean: values[key] = Self.meanRows(states, rows: 1..<(n - 1), width: width)
            case .sentence:
                let pooling = model.sentencePooling!
                var pooled = pooling.pooling == .first ? Array(states[0..<width]) : Self.meanRows(states, rows: 0..<n, width: width)
                if pooling.normalize {
                    let norm = max(pooled.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot(), 1e-12)
                    pooled = pooled.map { $0 / norm }
                }
                values[key] = pooled
            }
        }
        return SequenceEmbeddings(id: id, length: n - 2, values: values)
    }

    /// The mean of `rows` of an (n, C) row-major array, summed in row order (the same for any batch).
    static func meanRows(_ states: [Float], rows: Range<Int>, width: Int) -> [Float] {
        var sum = [Float](repeating: 0, count: width)
        for row in rows {
            for c in 0..<width { sum[c] += states[row * width + c] }
        }
        let count = Float(max(rows.count, 1))
        return sum.map { $0 / count }
    }

    // MARK: Predictions

    /// The head on one sequence's last hidden state: (1, n, C) → L outputs, or n × L for token heads.
    func headOutputs(of sequence: EncodedSequence, layer: Int) -> [Float] {
        let n = sequence.tokens.count
        return withNoGrad {
            model.head!(Tensor(shape: [1, n, sequence.width], values: sequence.states[layer]!), Tensor.ones([1, n])).toArray()
        }
    }

    /// Composition models: formulas → outputs (B, L), one batch per `batching` group of formulas.
    func compositionOutputs(_ chunk: [PreparedRecord]) -> [[Float]] {
        let composition = model.composition!
        var results: [[Float]] = []
        for batch in options.batching.batches(chunk.map(\.tokenCount)) {
            let fractions = chunk[batch].map { $0.formula!.fractions }
            let padded = CompositionBatch(fractions.map { formula in
                Example(tokens: formula.map(\.element.atomicNumber), fractions: formula.map { Float($0.fraction) })
            })
            // outputs: (B, L)
            let outputs = withNoGrad { composition(elements: padded.elements, fractions: padded.fractions, mask: padded.mask).toArray() }
            let width = outputs.count / fractions.count
            results += (0..<fractions.count).map { Array(outputs[($0 * width)..<(($0 + 1) * width)]) }
        }
        return results
    }

    /// One row of the predictions table: label and probabilities, a value in the data's units, or
    /// one label per residue.
    func predictionValues(_ raw: [Float], tokens: Int) -> [TableWriter.Value] {
        switch model.headKind! {
        case .classification(let labels):
            let probabilities = Self.softmax(raw)
            let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 > $1) }!
            return [.text(labels[best])] + probabilities.map { .float($0) }
        case .regression(let mean, let scale):
            return [.number(Double(raw[0]) * scale + mean)]
        case .tokenClassification(let labels):
            let classes = raw.count / tokens
            let residues = (1..<(tokens - 1)).map { position -> String in
                let scores = raw[(position * classes)..<((position + 1) * classes)]
                return labels[scores.indices.max { scores[$0] < scores[$1] }! - position * classes]
            }
            return [.text(residues.joined())]
        }
    }

    /// Softmax in Double, rounded to Float (the same value however the logits were batched).
    static func softmax(_ logits: [Float]) -> [Float] {
        let top = Double(logits.max() ?? 0)
        let exponentials = logits.map { Foundation.exp(Double($0) - top) }
        let total = exponentials.reduce(0, +)
        return exponentials.map { Float($0 / total) }
    }
}
