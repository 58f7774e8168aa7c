namespace Inlet.Storage;

/// <summary>A sending identity created through the API (an email address, or a domain with its verification token).</summary>
internal sealed record IdentityRecord(string Identity, string Type, string? VerificationToken, DateTimeOffset CreatedAt);

/// <summary>Sending identities created through the API, kept across restarts.</summary>
internal interface IIdentityStore
{
    Task PutIdentityAsync(IdentityRecord identity, CancellationToken cancellationToken);

    Task DeleteIdentityAsync(string identity, CancellationToken cancellationToken);

    Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(CancellationToken cancellationToken);
}
