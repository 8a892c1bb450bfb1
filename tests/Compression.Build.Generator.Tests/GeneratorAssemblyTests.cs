using System.Reflection;
using Microsoft.CodeAnalysis;

namespace Compression.Build.Generator.Tests;

/// <summary>The generator assembly loads into any compiler: Roslyn and netstandard only.</summary>
public class GeneratorAssemblyTests
{
    [Fact]
    public void Generator_depends_on_Roslyn_and_netstandard_only()
    {
        Assembly generator = typeof(OnnxModelGenerator).Assembly;

        Assert.Equal(
            ["Microsoft.CodeAnalysis", "Microsoft.CodeAnalysis.CSharp", "System.Collections.Immutable", "netstandard"],
            generator.GetReferencedAssemblies().Select(reference => reference.Name!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Generator_is_an_incremental_CSharp_generator()
    {
        GeneratorAttribute attribute = Assert.Single(typeof(OnnxModelGenerator).GetCustomAttributes<GeneratorAttribute>());

        Assert.Equal([LanguageNames.CSharp], attribute.Languages);
        Assert.True(typeof(IIncrementalGenerator).IsAssignableFrom(typeof(OnnxModelGenerator)));
        Assert.Equal(
            ".NETStandard,Version=v2.0",
            typeof(OnnxModelGenerator).Assembly.GetCustomAttribute<System.Runtime.Versioning.TargetFrameworkAttribute>()?.FrameworkName);
    }
}
