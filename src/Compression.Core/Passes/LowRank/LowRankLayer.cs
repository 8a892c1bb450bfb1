using Compression.Core.Ir;

namespace Compression.Core.Passes.LowRank;

/// <summary>The kind of layer a factorized weight belongs to.</summary>
public enum LowRankLayerKind
{
    /// <summary>MatMul with a 2-D constant weight <c>[K, N]</c>.</summary>
    MatMul,

    /// <summary>Gemm with a constant B (<c>[K, N]</c>, or <c>[N, K]</c> with transB).</summary>
    Gemm,

    /// <summary>Conv with group 1 and a constant weight <c>[O, C, k...]</c>, read as <c>[C k..., O]</c>.</summary>
    Conv,
}

/// <summary>
/// One layer the pass may factorize: its node, its weight read as an input-major matrix <c>W [K, N]</c> (K inputs, N
/// outputs: a MatMul weight as it is, a Gemm B after transB, a Conv weight's <c>[O, C k...]</c> transposed), and what the
/// rank choice needs.
/// </summary>
internal sealed class LowRankLayer
{
    public required Node Node { get; init; }

    public required Value Weight { get; init; }

    public required LowRankLayerKind Kind { get; init; }

    /// <summary>Inputs (rows of W).</summary>
    public required int K { get; init; }

    /// <summary>Outputs (columns of W).</summary>
    public required int N { get; init; }

    /// <summary>The fraction of parameters the node's setting keeps (the pool it shares a budget with).</summary>
    public required double Kept { get; init; }

    /// <summary>The largest rank at which the factors are smaller and faster than the weight.</summary>
    public required int MaxRank { get; init; }

    public long Parameters => (long)K * N;

    public long ParametersAt(int rank) => (long)rank * (K + N);

    /// <summary>W, row-major [K, N], once read.</summary>
    public float[] Matrix { get; set; } = [];

    /// <summary>The input Gram X^T X of the node's data input when calibration recorded it, else null.</summary>
    public double[]? Gram { get; set; }

    /// <summary>The SVD of W (or of L^T W, whitened), up to the rank the choice may give.</summary>
    public SvdFactors? Factors { get; set; }

    /// <summary>The inverse of the whitening factor L (lower, <c>H = L L^T</c>), when whitened.</summary>
    public double[]? InverseWhitening { get; set; }

    /// <summary>The energy of the matrix decomposed: |W|² (or |L^T W|², the output energy on the calibration rows).</summary>
    public double Energy { get; set; }

    /// <summary>The rank chosen; 0 keeps the weight whole.</summary>
    public int Rank { get; set; }

    /// <summary>Why the weight is kept whole after the rank choice, or null.</summary>
    public string? KeptWhole { get; set; }
}
