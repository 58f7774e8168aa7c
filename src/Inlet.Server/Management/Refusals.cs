namespace Inlet.Management;

/// <summary>
/// Runs a call on the engine and turns the engine's refusal (its exception type) into Management's own, so that the
/// Api catches what Management throws and never the engine's types.
/// </summary>
internal static class Refusals
{
    public static T Translate<TRefusal, T>(Func<T> operation, Func<TRefusal, Exception> translate)
        where TRefusal : Exception
    {
        try
        {
            return operation();
        }
        catch (TRefusal e)
        {
            throw translate(e);
        }
    }

    public static async Task<T> TranslateAsync<TRefusal, T>(Func<Task<T>> operation, Func<TRefusal, Exception> translate)
        where TRefusal : Exception
    {
        try
        {
            return await operation();
        }
        catch (TRefusal e)
        {
            throw translate(e);
        }
    }

    public static async Task TranslateAsync<TRefusal>(Func<Task> operation, Func<TRefusal, Exception> translate)
        where TRefusal : Exception
    {
        try
        {
            await operation();
        }
        catch (TRefusal e)
        {
            throw translate(e);
        }
    }
}
