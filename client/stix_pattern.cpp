// The STIX 2.1 patterning grammar (STIX 2.1 §9; the OASIS grammar
// cti-stix2-json-schemas/pattern_grammar/STIXPattern.g4): a tokenizer and a
// recursive-descent parser that says whether an indicator's pattern is well
// formed. It builds no tree: Focal only carries patterns, it never matches
// them.
//
// SECURITY: the pattern comes from another member. Nesting is bounded
// (MaxPatternDepth), every token read is bounds-checked, and nothing throws.
#include "client/stix.hpp"

#include <fmt/format.h>

#include <cctype>
#include <set>
#include <vector>

namespace focal::client::stix {

namespace {

enum class Tok {
  End, LBrack, RBrack, LParen, RParen, Colon, Dot, Comma, Star,
  Eq, Neq, Lt, Le, Gt, Ge,
  And, Or, Not, FollowedBy, Like, Matches, IsSuperset, IsSubset, Exists, In, Start, Stop, Seconds, Within,
  Repeats, Times, Last, Bool,
  Ident,          // [a-zA-Z_][a-zA-Z0-9_]*
  IdentHyphen,    // [a-zA-Z_][a-zA-Z0-9_-]* with a hyphen
  String, Binary, Hex, Timestamp, IntPos, IntNeg, FloatPos, FloatNeg,
};

struct Token {
  Tok kind = Tok::End;
  std::string text;
  std::size_t at = 0;
};

struct PatternError {
  std::string message;
};

bool isIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool isIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

Tok keyword(std::string_view w) {
  static const std::pair<std::string_view, Tok> words[] = {
      {"AND", Tok::And},         {"OR", Tok::Or},           {"NOT", Tok::Not},         {"FOLLOWEDBY", Tok::FollowedBy},
      {"LIKE", Tok::Like},       {"MATCHES", Tok::Matches}, {"ISSUPERSET", Tok::IsSuperset},
      {"ISSUBSET", Tok::IsSubset}, {"EXISTS", Tok::Exists}, {"IN", Tok::In},         {"START", Tok::Start},
      {"STOP", Tok::Stop},       {"SECONDS", Tok::Seconds}, {"WITHIN", Tok::Within},   {"REPEATS", Tok::Repeats},
      {"TIMES", Tok::Times},     {"LAST", Tok::Last},       {"true", Tok::Bool},       {"false", Tok::Bool}};
  for (const auto& [text, kind] : words) {
    if (w == text) return kind;
  }
  return Tok::Ident;
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  // Every token, or the first lexical error.
  std::vector<Token> run(std::optional<PatternError>& error) {
    std::vector<Token> out;
    while (true) {
      while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) ++i_;
      if (i_ >= s_.size()) break;
      auto t = next();
      if (!t) {
        error = PatternError{err_};
        return out;
      }
      out.push_back(std::move(*t));
    }
    out.push_back(Token{Tok::End, "", s_.size()});
    return out;
  }

 private:
  std::optional<Token> fail(std::string message) {
    err_ = std::move(message);
    return std::nullopt;
  }

  // The body of a quoted literal starting at the quote at i_: '' with the
  // escapes \' and \\ (the only two the grammar has).
  std::optional<std::string> quoted() {
    const std::size_t start = i_;
    ++i_;  // the opening quote
    std::string body;
    while (i_ < s_.size() && s_[i_] != '\'') {
      if (s_[i_] == '\\') {
        if (i_ + 1 >= s_.size() || (s_[i_ + 1] != '\'' && s_[i_ + 1] != '\\')) {
          err_ = fmt::format("bad escape in the string at offset {} (only \\' and \\\\)", i_);
          return std::nullopt;
        }
        body += s_[i_ + 1];
        i_ += 2;
        continue;
      }
      body += s_[i_++];
    }
    if (i_ >= s_.size()) {
      err_ = fmt::format("unterminated string starting at offset {}", start);
      return std::nullopt;
    }
    ++i_;  // the closing quote
    return body;
  }

  std::optional<Token> next() {
    const std::size_t at = i_;
    const char c = s_[i_];
    auto one = [&](Tok k, std::size_t n) {
      i_ += n;
      return Token{k, std::string(s_.substr(at, n)), at};
    };
    const char d = i_ + 1 < s_.size() ? s_[i_ + 1] : '\0';
    switch (c) {
      case '[': return one(Tok::LBrack, 1);
      case ']': return one(Tok::RBrack, 1);
      case '(': return one(Tok::LParen, 1);
      case ')': return one(Tok::RParen, 1);
      case ':': return one(Tok::Colon, 1);
      case ',': return one(Tok::Comma, 1);
      case '*': return one(Tok::Star, 1);
      case '=': return d == '=' ? one(Tok::Eq, 2) : one(Tok::Eq, 1);
      case '!':
        if (d == '=') return one(Tok::Neq, 2);
        return fail(fmt::format("unexpected '!' at offset {}", at));
      case '<':
        if (d == '>') return one(Tok::Neq, 2);
        return d == '=' ? one(Tok::Le, 2) : one(Tok::Lt, 1);
      case '>': return d == '=' ? one(Tok::Ge, 2) : one(Tok::Gt, 1);
      case '\'': {
        auto body = quoted();
        if (!body) return std::nullopt;
        return Token{Tok::String, std::move(*body), at};
      }
      default: break;
    }
    if (c == '.' && !isDigit(d)) return one(Tok::Dot, 1);
    if (isDigit(c) || c == '-' || c == '+' || c == '.') return number();
    if (isIdentStart(c)) {
      // b'…', h'…', t'…': binary, hex and timestamp literals.
      if ((c == 'b' || c == 'h' || c == 't') && d == '\'') {
        ++i_;
        auto body = quoted();
        if (!body) return std::nullopt;
        return literal(c, std::move(*body), at);
      }
      bool hyphen = false;
      while (i_ < s_.size() && (isIdentChar(s_[i_]) || s_[i_] == '-')) {
        hyphen = hyphen || s_[i_] == '-';
        ++i_;
      }
      std::string word(s_.substr(at, i_ - at));
      if (hyphen) return Token{Tok::IdentHyphen, std::move(word), at};
      return Token{keyword(word), std::move(word), at};
    }
    return fail(fmt::format("unexpected character at offset {}", at));
  }

  std::optional<Token> literal(char kind, std::string body, std::size_t at) {
    if (kind == 't') {
      if (!isTimestamp(body)) return fail(fmt::format("t'{}' at offset {} is not an RFC 3339 UTC timestamp", body, at));
      return Token{Tok::Timestamp, std::move(body), at};
    }
    if (kind == 'h') {
      if (body.size() % 2 != 0) return fail(fmt::format("hex literal at offset {} has an odd number of digits", at));
      for (char x : body) {
        if (std::isxdigit(static_cast<unsigned char>(x)) == 0) {
          return fail(fmt::format("hex literal at offset {} has a non-hex digit", at));
        }
      }
      return Token{Tok::Hex, std::move(body), at};
    }
    // Base64 (RFC 4648 §4): groups of four, '=' padding only at the end.
    bool ok = body.size() % 4 == 0;
    std::size_t pad = 0;
    for (std::size_t k = 0; ok && k < body.size(); ++k) {
      const char x = body[k];
      if (x == '=') {
        ++pad;
      } else if (pad != 0 || !(std::isalnum(static_cast<unsigned char>(x)) != 0 || x == '+' || x == '/')) {
        ok = false;
      }
    }
    if (!ok || pad > 2) return fail(fmt::format("binary literal at offset {} is not base64", at));
    return Token{Tok::Binary, std::move(body), at};
  }

  // IntPosLiteral '+'?(0|[1-9][0-9]*), IntNegLiteral '-'(…), FloatPos/Neg
  // [+-]?[0-9]*'.'[0-9]+.
  std::optional<Token> number() {
    const std::size_t at = i_;
    bool negative = false;
    if (s_[i_] == '-' || s_[i_] == '+') {
      negative = s_[i_] == '-';
      ++i_;
    }
    const std::size_t digits = i_;
    while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
    const std::size_t intLen = i_ - digits;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      const std::size_t frac = i_;
      while (i_ < s_.size() && isDigit(s_[i_])) ++i_;
      if (i_ == frac) return fail(fmt::format("a number at offset {} has no digits after the point", at));
      return Token{negative ? Tok::FloatNeg : Tok::FloatPos, std::string(s_.substr(at, i_ - at)), at};
    }
    if (intLen == 0) return fail(fmt::format("unexpected character at offset {}", at));
    if (intLen > 1 && s_[digits] == '0') return fail(fmt::format("a number at offset {} has a leading zero", at));
    return Token{negative ? Tok::IntNeg : Tok::IntPos, std::string(s_.substr(at, i_ - at)), at};
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string err_;
};

using Types = std::set<std::string>;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  std::optional<std::string> run() {
    if (!observationExpressions()) return err_;
    if (peek().kind != Tok::End) return fmt::format("unexpected '{}' at offset {}", peek().text, peek().at);
    return std::nullopt;
  }

 private:
  const Token& peek() const { return t_[p_]; }
  bool accept(Tok k) {
    if (peek().kind != k) return false;
    if (k != Tok::End) ++p_;
    return true;
  }
  bool fail(std::string_view expected) {
    if (err_.empty()) {
      err_ = peek().kind == Tok::End ? fmt::format("expected {} at the end of the pattern", expected)
                                     : fmt::format("expected {} at offset {}, found '{}'", expected, peek().at,
                                                   peek().text);
    }
    return false;
  }
  bool expect(Tok k, std::string_view what) { return accept(k) || fail(what); }
  // Entering a bracket or parenthesis: bounded, so a hostile pattern cannot
  // exhaust the stack.
  bool enter() {
    if (++depth_ > MaxPatternDepth) {
      err_ = fmt::format("the pattern nests deeper than {} levels", MaxPatternDepth);
      return false;
    }
    return true;
  }

  bool observationExpressions() {
    if (!observationOr()) return false;
    while (accept(Tok::FollowedBy)) {
      if (!observationOr()) return false;
    }
    return true;
  }
  bool observationOr() {
    if (!observationAnd()) return false;
    while (accept(Tok::Or)) {
      if (!observationAnd()) return false;
    }
    return true;
  }
  bool observationAnd() {
    if (!observation()) return false;
    while (accept(Tok::And)) {
      if (!observation()) return false;
    }
    return true;
  }
  bool observation() {
    if (accept(Tok::LBrack)) {
      if (!enter()) return false;
      Types types;
      if (!comparisonOr(types) || !expect(Tok::RBrack, "']'")) return false;
      --depth_;
    } else if (accept(Tok::LParen)) {
      if (!enter()) return false;
      if (!observationExpressions() || !expect(Tok::RParen, "')'")) return false;
      --depth_;
    } else {
      return fail("'[' or '('");
    }
    return qualifiers();
  }
  bool positive(std::string_view text) const {
    for (char c : text) {
      if (c >= '1' && c <= '9') return true;
    }
    return false;
  }
  bool qualifiers() {
    while (true) {
      if (accept(Tok::Start)) {
        if (!expect(Tok::Timestamp, "a t'…' timestamp after START") || !expect(Tok::Stop, "STOP") ||
            !expect(Tok::Timestamp, "a t'…' timestamp after STOP")) {
          return false;
        }
      } else if (accept(Tok::Within)) {
        const Token& n = peek();
        if ((n.kind != Tok::IntPos && n.kind != Tok::FloatPos) || !positive(n.text)) {
          return fail("a positive number of seconds after WITHIN");
        }
        ++p_;
        if (!expect(Tok::Seconds, "SECONDS")) return false;
      } else if (accept(Tok::Repeats)) {
        const Token& n = peek();
        if (n.kind != Tok::IntPos || !positive(n.text)) return fail("a positive integer after REPEATS");
        ++p_;
        if (!expect(Tok::Times, "TIMES")) return false;
      } else {
        return true;
      }
    }
  }

  // STIX 2.1 §9.5: comparison expressions joined by AND must all be about
  // the same object type.
  bool comparisonOr(Types& types) {
    if (!comparisonAnd(types)) return false;
    while (accept(Tok::Or)) {
      Types more;
      if (!comparisonAnd(more)) return false;
      types.insert(more.begin(), more.end());
    }
    return true;
  }
  bool comparisonAnd(Types& types) {
    const std::size_t at = peek().at;
    if (!propTest(types)) return false;
    while (accept(Tok::And)) {
      if (!propTest(types)) return false;
    }
    if (types.size() > 1) {
      err_ = fmt::format("comparisons joined by AND at offset {} are about different object types", at);
      return false;
    }
    return true;
  }
  bool propTest(Types& types) {
    if (accept(Tok::LParen)) {
      if (!enter()) return false;
      if (!comparisonOr(types) || !expect(Tok::RParen, "')'")) return false;
      --depth_;
      return true;
    }
    if (accept(Tok::Exists)) return objectPath(types);
    if (!objectPath(types)) return false;
    accept(Tok::Not);
    const Tok op = peek().kind;
    switch (op) {
      case Tok::Eq:
      case Tok::Neq:
        ++p_;
        return primitiveLiteral(true);
      case Tok::Lt:
      case Tok::Le:
      case Tok::Gt:
      case Tok::Ge:
        ++p_;
        return primitiveLiteral(false);
      case Tok::In:
        ++p_;
        return setLiteral();
      case Tok::Like:
      case Tok::Matches:
      case Tok::IsSubset:
      case Tok::IsSuperset:
        ++p_;
        return expect(Tok::String, "a quoted string");
      default:
        return fail("a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET)");
    }
  }
  bool primitiveLiteral(bool allowBool) {
    switch (peek().kind) {
      case Tok::IntPos:
      case Tok::IntNeg:
      case Tok::FloatPos:
      case Tok::FloatNeg:
      case Tok::String:
      case Tok::Binary:
      case Tok::Hex:
      case Tok::Timestamp:
        ++p_;
        return true;
      case Tok::Bool:
        if (!allowBool) return fail("an orderable literal (a boolean has no order)");
        ++p_;
        return true;
      default:
        return fail("a literal");
    }
  }
  bool setLiteral() {
    if (!expect(Tok::LParen, "'(' opening a set")) return false;
    if (accept(Tok::RParen)) return true;
    if (!primitiveLiteral(true)) return false;
    while (accept(Tok::Comma)) {
      if (!primitiveLiteral(true)) return false;
    }
    return expect(Tok::RParen, "')' closing the set");
  }
  // objectType ':' firstPathComponent objectPathComponent*
  bool objectPath(Types& types) {
    const Token& type = peek();
    if (type.kind != Tok::Ident && type.kind != Tok::IdentHyphen) return fail("an object type such as file or ipv4-addr");
    types.insert(type.text);
    ++p_;
    if (!expect(Tok::Colon, "':' after the object type")) return false;
    if (!accept(Tok::Ident) && !accept(Tok::String)) return fail("a property name");
    while (true) {
      if (accept(Tok::Dot)) {
        if (!accept(Tok::Ident) && !accept(Tok::String)) return fail("a property name after '.'");
      } else if (accept(Tok::LBrack)) {
        if (!accept(Tok::IntPos) && !accept(Tok::IntNeg) && !accept(Tok::Star)) return fail("a list index or '*'");
        if (!expect(Tok::RBrack, "']' closing the index")) return false;
      } else {
        return true;
      }
    }
  }

  std::vector<Token> t_;
  std::size_t p_ = 0;
  int depth_ = 0;
  std::string err_;
};

}  // namespace

std::optional<std::string> checkPattern(std::string_view pattern) {
  std::optional<PatternError> error;
  auto tokens = Lexer(pattern).run(error);
  if (error) return error->message;
  return Parser(std::move(tokens)).run();
}

}  // namespace focal::client::stix
