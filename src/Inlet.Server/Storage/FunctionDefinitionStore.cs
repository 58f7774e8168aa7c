namespace Inlet.Storage;

/// <summary>Functions created through the Lambda API (their JSON definitions), kept across restarts.</summary>
internal interface IFunctionDefinitionStore
{
    Task PutFunctionAsync(string name, string definition, CancellationToken cancellationToken);

    Task DeleteFunctionAsync(string name, CancellationToken cancellationToken);

    Task<IReadOnlyList<string>> ListFunctionsAsync(CancellationToken cancellationToken);
}
