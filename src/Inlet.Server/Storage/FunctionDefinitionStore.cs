namespace Inlet.Storage;

/// <summary>Functions created through the Lambda API (their JSON definitions), kept across restarts.</summary>
internal interface IFunctionDefinitionStore
{
    Task PutFunctionAsync(string name, string definition, CancellationToken cancellationToken);

    Task DeleteFunctionAsync(string name, CancellationToken cancellationToken);

    Task<IReadOnlyList<string>> ListFunctionsAsync(CancellationToken cancellationToken);

    /// <summary>Keeps a function's zip package under its SHA-256 (base64), so that every node can unpack it.</summary>
    Task PutCodeAsync(string sha256, byte[] zip, CancellationToken cancellationToken);

    Task<byte[]?> GetCodeAsync(string sha256, CancellationToken cancellationToken);
}
