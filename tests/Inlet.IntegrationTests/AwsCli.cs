using System.Diagnostics;
using System.Text.Json;

namespace Inlet.IntegrationTests;

/// <summary>The real aws CLI installed on the machine, pointed at a test server, with Inlet's default keys.</summary>
internal static class AwsCli
{
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public JsonElement Json => JsonDocument.Parse(Output).RootElement;
    }

    public static async Task<Result> RunAsync(TestServer server, params string[] arguments) =>
        await RunAsync($"http://{server.Server.HttpEndPoint}", "inlet", "inlet-secret", arguments);

    public static Task<Result> RunAsync(string endpoint, string accessKey, string secretKey, params string[] arguments) =>
        RunWithConfigAsync(endpoint, accessKey, secretKey, "/dev/null", arguments);

    /// <summary>With a CLI configuration file (profile settings such as <c>s3 = signature_version = s3v4</c>).</summary>
    public static Task<Result> RunWithConfigAsync(TestServer server, string configFile, params string[] arguments) =>
        RunWithConfigAsync($"http://{server.Server.HttpEndPoint}", "inlet", "inlet-secret", configFile, arguments);

    private static async Task<Result> RunWithConfigAsync(string endpoint, string accessKey, string secretKey, string configFile, string[] arguments)
    {
        var info = new ProcessStartInfo("aws") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.ArgumentList.Add("--endpoint-url");
        info.ArgumentList.Add(endpoint);
        info.ArgumentList.Add("--output");
        info.ArgumentList.Add("json");
        info.Environment["AWS_ACCESS_KEY_ID"] = accessKey;
        info.Environment["AWS_SECRET_ACCESS_KEY"] = secretKey;
        info.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
        info.Environment["AWS_CONFIG_FILE"] = configFile;
        info.Environment["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null";
        info.Environment["AWS_PAGER"] = string.Empty;
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await output, await error);
    }
}
