namespace Inlet.IntegrationTests;

/// <summary>Function code written into a test's folder: real Node handlers and a Python bootstrap.</summary>
internal static class FunctionFixtures
{
    /// <summary>The handler of the SES documentation, exactly as written there.</summary>
    public const string SesDocumentationHandler = """
        exports.handler = function(event, context, callback) {
            console.log('Spam filter');

            var sesNotification = event.Records[0].ses;
            console.log("SES Notification:\n", JSON.stringify(sesNotification, null, 2));

            callback( null, { "disposition" : "STOP_RULE_SET" });
        };
        """;

    /// <summary>Answers the disposition named in the message's subject, and records every event it sees.</summary>
    public const string SubjectDisposition = """
        const fs = require('fs');
        exports.handler = async (event, context) => {
            fs.appendFileSync(process.env.EVENT_LOG, JSON.stringify(event) + '\n');
            const subject = event.Records[0].ses.mail.commonHeaders.subject || '';
            console.log('subject', subject);
            console.error('to stderr');
            if (subject === 'null') return null;
            if (subject === 'nothing') return;
            if (subject === 'throw') throw new TypeError('bad subject');
            if (subject === 'crash') process.exit(3);
            if (subject === 'sleep') await new Promise(r => setTimeout(r, 5000));
            return { disposition: subject };
        };
        """;

    public const string EsModule = """
        export const handler = async (event) => ({ disposition: 'STOP_RULE', from: 'esm', records: event.Records.length });
        """;

    /// <summary>A provided-runtime bootstrap: a Runtime API client in a few lines of Python.</summary>
    public const string PythonBootstrap = """
        #!/usr/bin/env python3
        import json, os, urllib.request
        api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
        while True:
            with urllib.request.urlopen(api + "next") as response:
                request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
                event = json.loads(response.read())
            print("python got", len(event["Records"]), "record(s)", flush=True)
            body = json.dumps({"disposition": "stop_rule_set", "handler": os.environ["_HANDLER"]}).encode()
            urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
        """;

    /// <summary>
    /// A folder a function may write into, for tests that record what a function saw: functions run as an
    /// unprivileged user when the tests run as root, and Inlet's data folder is closed to that user.
    /// </summary>
    public static string OutputFolder(string directory)
    {
        var folder = Path.Combine(directory, "function-output");
        Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, (UnixFileMode)0b111_111_111);
        }

        return folder;
    }

    public static string Write(string directory, string name, string file, string code)
    {
        var folder = Path.Combine(directory, "functions-src", name);
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, code.Replace("\r\n", "\n", StringComparison.Ordinal));
        if (file == "bootstrap" && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }

        return folder;
    }
}
