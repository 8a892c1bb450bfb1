using System.Diagnostics;

namespace Compression.Core.Reporting;

/// <summary>Measures a compression's phases one after the other, for the report's <see cref="ReportTiming"/>.</summary>
internal sealed class PhaseClock
{
    private readonly Stopwatch total = Stopwatch.StartNew();
    private readonly List<PhaseTiming> phases = [];
    private long phaseStart;

    /// <summary>Ends the phase named <paramref name="name"/>, which began where the last one ended (or at the start).</summary>
    public void End(string name)
    {
        long now = total.ElapsedMilliseconds;
        phases.Add(new PhaseTiming(name, now - phaseStart));
        phaseStart = now;
    }

    /// <summary>The time so far and the phases ended.</summary>
    public ReportTiming Report() => new(total.ElapsedMilliseconds, [.. phases]);
}
