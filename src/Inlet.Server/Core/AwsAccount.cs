using System.Collections.Immutable;

namespace Inlet.Core;

/// <summary>
/// The AWS account Inlet plays: its region and id, as every ARN and Query response writes them, and the access keys its
/// APIs accept. What the Api needs of the options, and no more, so that it does not reach into the composition root.
/// </summary>
internal sealed record AwsAccount(string Region, string AccountId, ImmutableArray<AccessKey> Credentials);

/// <summary>A Signature Version 4 key pair accepted by the AWS APIs.</summary>
internal sealed record AccessKey(string AccessKeyId, string SecretAccessKey);
