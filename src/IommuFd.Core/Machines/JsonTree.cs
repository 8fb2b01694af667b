using System.Text;
using System.Text.Json;

namespace IommuFd.Core.Machines;

/// <summary>
/// A small JSON tree that remembers where each value starts, so a description's problems can be
/// reported at their line. Built with <see cref="Utf8JsonReader"/> (comments and trailing commas allowed).
/// </summary>
internal abstract record JsonTree(long Offset)
{
    public sealed record Object(long Offset, List<(string Name, JsonTree Value)> Members) : JsonTree(Offset);

    public sealed record Array(long Offset, List<JsonTree> Items) : JsonTree(Offset);

    /// <summary>A string (unescaped), number (its text), true, false or null.</summary>
    public sealed record Value(long Offset, JsonTokenType Type, string Text) : JsonTree(Offset);

    public string KindName => this switch
    {
        Object => "an object",
        Array => "an array",
        Value { Type: JsonTokenType.String } => "a string",
        Value { Type: JsonTokenType.Number } => "a number",
        Value { Type: JsonTokenType.True or JsonTokenType.False } => "a boolean",
        _ => "null",
    };

    /// <summary>Parses UTF-8 JSON; a syntax error throws <see cref="MachineDescriptionException"/> with its line.</summary>
    public static JsonTree Parse(ReadOnlySpan<byte> utf8, string? source)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        });
        try
        {
            // The reader itself refuses an empty input and anything after the top-level value.
            reader.Read();
            var tree = ReadValue(ref reader);
            reader.Read();
            return tree;
        }
        catch (JsonException e)
        {
            // The reader's positions are 0-based; its message repeats them, so only the first sentence is kept.
            var line = (int)(e.LineNumber ?? 0) + 1;
            var what = e.Message.Split(" LineNumber:")[0].TrimEnd('.', ' ');
            throw new MachineDescriptionException(source, line, $"invalid JSON: {what}");
        }
    }

    private static JsonTree ReadValue(ref Utf8JsonReader reader)
    {
        var offset = reader.TokenStartIndex;
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var members = new List<(string, JsonTree)>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var name = reader.GetString()!;
                    reader.Read();
                    members.Add((name, ReadValue(ref reader)));
                }
                return new Object(offset, members);
            case JsonTokenType.StartArray:
                var items = new List<JsonTree>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    items.Add(ReadValue(ref reader));
                return new Array(offset, items);
            case JsonTokenType.String:
                return new Value(offset, reader.TokenType, reader.GetString()!);
            default:
                var raw = reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan.ToArray();
                return new Value(offset, reader.TokenType, Encoding.UTF8.GetString(raw));
        }
    }

    /// <summary>1-based line of a byte offset.</summary>
    public static int LineAt(ReadOnlySpan<byte> utf8, long offset) =>
        utf8[..(int)Math.Min(offset, utf8.Length)].Count((byte)'\n') + 1;
}
