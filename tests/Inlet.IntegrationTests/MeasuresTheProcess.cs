namespace Inlet.IntegrationTests;

/// <summary>
/// Tests that measure the whole test process (its managed heap), and so must have it to themselves: xUnit runs this
/// collection after the parallel ones, with nothing beside it.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasuresTheProcess
{
    public const string Name = "Measures the whole process";
}
