#include "engine/core/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace pellucid {
namespace {

class Parser {
public:
    explicit Parser(const std::string &text) : s(text) { }

    Json parseDocument()
    {
        skipSpace();
        Json v = parseValue(0);
        skipSpace();
        if (pos != s.size()) fail("unexpected text after the JSON value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string &what) const
    {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < pos && i < s.size(); ++i) {
            if (s[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        throw std::runtime_error("JSON error at line " + std::to_string(line) + ", column " + std::to_string(col) + ": " + what);
    }

    void skipSpace()
    {
        while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) ++pos;
    }

    bool consume(const char *word)
    {
        const size_t n = std::strlen(word);
        if (s.compare(pos, n, word) == 0) {
            pos += n;
            return true;
        }
        return false;
    }

    Json parseValue(int depth)
    {
        if (depth > 200) fail("nesting too deep");
        if (pos >= s.size()) fail("unexpected end of input");
        const char c = s[pos];
        if (c == '{') return parseObject(depth);
        if (c == '[') return parseArray(depth);
        if (c == '"') return Json(parseString());
        if (consume("true")) return Json(true);
        if (consume("false")) return Json(false);
        if (consume("null")) return Json();
        if (c == '-' || (c >= '0' && c <= '9')) return parseNumber();
        fail(std::string("unexpected character '") + c + "'");
    }

    Json parseNumber()
    {
        const size_t start = pos;
        if (s[pos] == '-') ++pos;
        auto digits = [&] {
            size_t b = pos;
            while (pos < s.size() && std::isdigit((unsigned char)s[pos])) ++pos;
            return pos > b;
        };
        if (!digits()) fail("malformed number");
        if (pos < s.size() && s[pos] == '.') {
            ++pos;
            if (!digits()) fail("malformed number");
        }
        if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
            ++pos;
            if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) ++pos;
            if (!digits()) fail("malformed number");
        }
        return Json(std::strtod(s.c_str() + start, nullptr));
    }

    static void appendUtf8(std::string &out, uint32_t cp)
    {
        if (cp < 0x80)
            out += char(cp);
        else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }

    uint32_t hex4()
    {
        if (pos + 4 > s.size()) fail("truncated \\u escape");
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = s[pos++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= uint32_t(c - 'A' + 10);
            else
                fail("bad \\u escape");
        }
        return v;
    }

    std::string parseString()
    {
        ++pos;   // opening quote
        std::string out;
        while (true) {
            if (pos >= s.size()) fail("unterminated string");
            const char c = s[pos++];
            if (c == '"') break;
            if ((unsigned char)c < 0x20) fail("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos >= s.size()) fail("unterminated escape");
            const char e = s[pos++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                uint32_t cp = hex4();
                if (cp >= 0xD800 && cp < 0xDC00 && consume("\\u")) {
                    const uint32_t lo = hex4();
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                appendUtf8(out, cp);
                break;
            }
            default: fail(std::string("bad escape \\") + e);
            }
        }
        return out;
    }

    Json parseArray(int depth)
    {
        ++pos;
        Json a = Json::array();
        skipSpace();
        if (pos < s.size() && s[pos] == ']') {
            ++pos;
            return a;
        }
        while (true) {
            skipSpace();
            a.push(parseValue(depth + 1));
            skipSpace();
            if (pos < s.size() && s[pos] == ',') {
                ++pos;
                continue;
            }
            if (pos < s.size() && s[pos] == ']') {
                ++pos;
                return a;
            }
            fail("expected ',' or ']' in array");
        }
    }

    Json parseObject(int depth)
    {
        ++pos;
        Json o = Json::object();
        skipSpace();
        if (pos < s.size() && s[pos] == '}') {
            ++pos;
            return o;
        }
        while (true) {
            skipSpace();
            if (pos >= s.size() || s[pos] != '"') fail("expected a string key in object");
            std::string key = parseString();
            skipSpace();
            if (pos >= s.size() || s[pos] != ':') fail("expected ':' after key");
            ++pos;
            skipSpace();
            o[key] = parseValue(depth + 1);
            skipSpace();
            if (pos < s.size() && s[pos] == ',') {
                ++pos;
                continue;
            }
            if (pos < s.size() && s[pos] == '}') {
                ++pos;
                return o;
            }
            fail("expected ',' or '}' in object");
        }
    }

    const std::string &s;
    size_t pos = 0;
};

const char *typeName(Json::Type t)
{
    switch (t) {
    case Json::Type::Null: return "null";
    case Json::Type::Bool: return "a boolean";
    case Json::Type::Number: return "a number";
    case Json::Type::String: return "a string";
    case Json::Type::Array: return "an array";
    case Json::Type::Object: return "an object";
    }
    return "?";
}

[[noreturn]] void typeError(const char *wanted, Json::Type got)
{
    throw std::runtime_error(std::string("expected ") + wanted + ", found " + typeName(got));
}

void escapeTo(std::string &out, const std::string &s)
{
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += char(c);
            }
        }
    }
    out += '"';
}

}   // namespace

Json Json::parse(const std::string &text) { return Parser(text).parseDocument(); }

bool Json::asBool() const
{
    if (mType != Type::Bool) typeError("a boolean", mType);
    return mBool;
}
double Json::asNumber() const
{
    if (mType != Type::Number) typeError("a number", mType);
    return mNumber;
}
int64_t Json::asInt() const
{
    const double v = asNumber();
    if (v != std::floor(v) || std::fabs(v) >= 9.2e18) {
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.17g", v);
        throw std::runtime_error(std::string(v != std::floor(v) ? "expected an integer, found " : "an integer out of range: ") + buf);
    }
    return int64_t(v);
}
const std::string &Json::asString() const
{
    if (mType != Type::String) typeError("a string", mType);
    return mString;
}
const Json::Array &Json::asArray() const
{
    if (mType != Type::Array) typeError("an array", mType);
    return mArray;
}
const Json::Object &Json::asObject() const
{
    if (mType != Type::Object) typeError("an object", mType);
    return mObject;
}

const Json &Json::at(const std::string &key) const
{
    if (const Json *v = find(key)) return *v;
    throw std::runtime_error(isObject() ? "the field \"" + key + "\" is missing"
                                        : "expected an object with \"" + key + "\", found " + typeName(mType));
}

const Json *Json::find(const std::string &key) const
{
    if (mType != Type::Object) return nullptr;
    for (const auto &kv : mObject)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

Json &Json::operator[](const std::string &key)
{
    if (mType == Type::Null) mType = Type::Object;
    if (mType != Type::Object) typeError("an object", mType);
    for (auto &kv : mObject)
        if (kv.first == key) return kv.second;
    mObject.emplace_back(key, Json());
    return mObject.back().second;
}

void Json::push(Json v)
{
    if (mType == Type::Null) mType = Type::Array;
    if (mType != Type::Array) typeError("an array", mType);
    mArray.push_back(std::move(v));
}

size_t Json::size() const { return mType == Type::Array ? mArray.size() : mType == Type::Object ? mObject.size() : 0; }

std::string Json::dump(int indent) const
{
    std::string out;
    dumpTo(out, indent, 0);
    return out;
}

void Json::dumpTo(std::string &out, int indent, int depth) const
{
    auto newline = [&](int d) {
        if (indent < 0) return;
        out += '\n';
        out.append(size_t(indent * d), ' ');
    };
    switch (mType) {
    case Type::Null: out += "null"; break;
    case Type::Bool: out += mBool ? "true" : "false"; break;
    case Type::Number: {
        if (!std::isfinite(mNumber)) {
            out += "null";
            break;
        }
        // The shortest text that reads back to the value: as a float32 when the value is one (most numbers
        // here come from float tensors: 0.1f is written 0.1, not 0.100000001), else as a double.
        char buf[40];
        if (mNumber == std::floor(mNumber) && std::fabs(mNumber) < 1e15) {
            std::snprintf(buf, sizeof buf, "%.0f", mNumber);
        } else if (std::fabs(mNumber) <= 3.4e38 && double(float(mNumber)) == mNumber) {
            for (int digits = 6; digits <= 9; ++digits) {
                std::snprintf(buf, sizeof buf, "%.*g", digits, mNumber);
                if (float(std::strtod(buf, nullptr)) == float(mNumber)) break;
            }
        } else {
            for (int digits = 15; digits <= 17; ++digits) {
                std::snprintf(buf, sizeof buf, "%.*g", digits, mNumber);
                if (std::strtod(buf, nullptr) == mNumber) break;
            }
        }
        out += buf;
        break;
    }
    case Type::String: escapeTo(out, mString); break;
    case Type::Array:
        out += '[';
        for (size_t i = 0; i < mArray.size(); ++i) {
            if (i) out += indent < 0 ? ", " : ",";
            newline(depth + 1);
            mArray[i].dumpTo(out, indent, depth + 1);
        }
        if (!mArray.empty()) newline(depth);
        out += ']';
        break;
    case Type::Object:
        out += '{';
        for (size_t i = 0; i < mObject.size(); ++i) {
            if (i) out += indent < 0 ? ", " : ",";
            newline(depth + 1);
            escapeTo(out, mObject[i].first);
            out += ": ";
            mObject[i].second.dumpTo(out, indent, depth + 1);
        }
        if (!mObject.empty()) newline(depth);
        out += '}';
        break;
    }
}

}   // namespace pellucid
