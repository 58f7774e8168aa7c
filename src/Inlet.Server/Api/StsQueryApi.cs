using Inlet.Management;
using Microsoft.AspNetCore.Http;

namespace Inlet.Api;

/// <summary>
/// STS's <c>GetCallerIdentity</c>, so that a function (or a script) can ask who it is: a function's temporary
/// credentials answer with the assumed-role ARN of its <c>Role</c>, as in Lambda; Inlet's configured keys answer
/// as the account's root user.
/// </summary>
internal static class StsQueryApi
{
    public const string Version = "2011-06-15";
    public const string Namespace = "https://sts.amazonaws.com/doc/2011-06-15/";

    public static IResult Handle(QueryRequest query, HttpContext context, AwsAccount options)
    {
        if (query.Action != "GetCallerIdentity")
        {
            return QueryXml.Error(Namespace, "InvalidAction", $"Could not find operation {query.Action} for version {Version} (Inlet serves GetCallerIdentity)", 400);
        }

        var principal = context.Items[AwsAuthenticationMiddleware.PrincipalItem] as FunctionCaller;
        var (arn, userId) = principal is null
            ? ($"arn:aws:iam::{options.AccountId}:root", options.AccountId)
            : (principal.AssumedRoleArn, principal.UserId);
        return QueryXml.Ok("GetCallerIdentity", Namespace, w =>
        {
            w.WriteElementString("Arn", Namespace, arn);
            w.WriteElementString("UserId", Namespace, userId);
            w.WriteElementString("Account", Namespace, options.AccountId);
        });
    }
}
