#pragma once
// A small JSON value with a strict parser and a writer: enough for model metadata, CLI output and
// sessions, without adding a dependency the headless (CUDA) engine build would have to find.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pellucid {

class Json {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };
    using Array = std::vector<Json>;
    using Object = std::vector<std::pair<std::string, Json>>;   // keeps insertion order

    Json() = default;
    Json(std::nullptr_t) { }
    Json(bool b) : mType(Type::Bool), mBool(b) { }
    Json(int v) : mType(Type::Number), mNumber(v) { }
    Json(int64_t v) : mType(Type::Number), mNumber(double(v)) { }
    Json(double v) : mType(Type::Number), mNumber(v) { }
    Json(const char *s) : mType(Type::String), mString(s) { }
    Json(std::string s) : mType(Type::String), mString(std::move(s)) { }
    Json(Array a) : mType(Type::Array), mArray(std::move(a)) { }
    static Json object()
    {
        Json j;
        j.mType = Type::Object;
        return j;
    }
    static Json array()
    {
        Json j;
        j.mType = Type::Array;
        return j;
    }

    /// Throws std::runtime_error naming the line and column of the first problem.
    static Json parse(const std::string &text);

    Type type() const { return mType; }
    bool isNull() const { return mType == Type::Null; }
    bool isNumber() const { return mType == Type::Number; }
    bool isString() const { return mType == Type::String; }
    bool isArray() const { return mType == Type::Array; }
    bool isObject() const { return mType == Type::Object; }

    bool asBool() const;
    double asNumber() const;
    int64_t asInt() const;
    const std::string &asString() const;
    const Array &asArray() const;
    const Object &asObject() const;

    const Json *find(const std::string &key) const;   // nullptr when absent (or not an object)
    bool contains(const std::string &key) const { return find(key) != nullptr; }
    /// A field that must be there: throws std::runtime_error naming it when absent (or not an object).
    const Json &at(const std::string &key) const;
    Json &operator[](const std::string &key);   // object: insert or get
    void push(Json v);                          // array: append
    size_t size() const;

    /// indent < 0: one line. Non-finite numbers are written as null (JSON has no NaN).
    std::string dump(int indent = -1) const;

private:
    void dumpTo(std::string &out, int indent, int depth) const;

    Type mType = Type::Null;
    bool mBool = false;
    double mNumber = 0;
    std::string mString;
    Array mArray;
    Object mObject;
};

}   // namespace pellucid
