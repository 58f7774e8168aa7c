using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Inlet.IntegrationTests;

/// <summary>
/// A real PostgreSQL server for the tests: Debian's server binaries, a cluster made with <c>initdb</c> in a temporary
/// folder, listening on a loopback port, run as an unprivileged user (<c>postgres</c> when the tests run as root,
/// since PostgreSQL refuses to run as root), and stopped when the tests are done. Each test takes a database of its own.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "inlet-postgres-" + Guid.NewGuid().ToString("N"));
    private int _databases;

    /// <summary>Where Debian puts the server binaries (<c>/usr/lib/postgresql/&lt;major&gt;/bin</c>), or null.</summary>
    public static string? BinFolder { get; } = Directory.Exists("/usr/lib/postgresql")
        ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
        : null;

    public int Port { get; } = LoopbackPorts.Free();

    private string DataFolder => Path.Combine(_folder, "data");

    public async Task InitializeAsync()
    {
        if (BinFolder is null)
        {
            return;
        }

        Directory.CreateDirectory(_folder);
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", "postgres:postgres", _folder);
        }

        await RunPostgresAsync("initdb", "-D", DataFolder, "-U", "inlet", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync");
        await StartAsync();
    }

    public async Task StartAsync() =>
        await RunPostgresAsync("pg_ctl", "-D", DataFolder, "-l", Path.Combine(_folder, "server.log"), "-w", "-t", "60", "start",
            "-o", $"-p {Port} -k {_folder} -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=64MB");

    /// <summary>A fast shutdown: connections are cut, as when the database server restarts.</summary>
    public async Task StopAsync() => await RunPostgresAsync("pg_ctl", "-D", DataFolder, "-w", "-m", "fast", "stop");

    /// <summary>A fresh, empty database, and its connection string.</summary>
    public async Task<string> NewDatabaseAsync()
    {
        var name = $"test_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..8]}";
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name};", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username=inlet;Database={database};Pooling=true";

    public async Task DisposeAsync()
    {
        if (BinFolder is null || !Directory.Exists(_folder))
        {
            return;
        }

        try
        {
            await RunPostgresAsync("pg_ctl", "-D", DataFolder, "-w", "-m", "immediate", "stop");
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }

        Directory.Delete(_folder, recursive: true);
    }

    private static Task RunPostgresAsync(string program, params string[] arguments)
    {
        var path = Path.Combine(BinFolder!, program);
        return Environment.UserName == "root"
            ? RunAsync("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", path, .. arguments])
            : RunAsync(path, arguments);
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {process.ExitCode.ToString(CultureInfo.InvariantCulture)}:\n{await output}\n{await error}");
        }
    }
}

/// <summary>A fact that needs PostgreSQL's server binaries; skipped, with the reason, when they are not installed.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresServer.BinFolder is null)
        {
            Skip = "PostgreSQL's server binaries (/usr/lib/postgresql/<version>/bin) are not installed";
        }
    }
}
