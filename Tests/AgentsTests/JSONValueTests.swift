import Agents
import Foundation
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    @Test("decodes any JSON losslessly and re-encodes it")
    func roundTrip() throws {
        let text = #"{"a":[true,false,null,1,0,-2.5,1763373605120,"x\n\u00e9"],"b":{"c":{}},"d":[],"e":""}"#
        let value = try #require(JSONValue.parse(text))
        #expect(value["a"]?[0] == .bool(true))
        #expect(value["a"]?[3] == .number(1))
        #expect(value["a"]?[4] == .number(0))
        #expect(value["a"]?[2]?.isNull == true)
        #expect(value["a"]?[6]?.intValue == 1_763_373_605_120)
        #expect(value["a"]?[7]?.stringValue == "x\né")
        #expect(value["a"]?[99] == nil)
        #expect(value["b"]?["c"] == .object([:]))
        #expect(value["missing"] == nil)
        #expect(value["a"]?["key"] == nil)
        let again = try #require(JSONValue.parse(value.jsonString()))
        #expect(again == value)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let decoded = try JSONDecoder().decode(JSONValue.self, from: try encoder.encode(value))
        #expect(decoded == value)
    }

    @Test("objects encode deterministically with sortedKeys")
    func sortedKeys() throws {
        let value: JSONValue = ["zeta": 1, "alpha": ["y": 2, "b": 3], "mid": [1, "two", nil, true]]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(value), as: UTF8.self)
        #expect(text == #"{"alpha":{"b":3,"y":2},"mid":[1,"two",null,true],"zeta":1}"#)
        #expect(value.jsonString() == text)
    }

    @Test("scalars at the top level")
    func scalars() {
        #expect(JSONValue.parse("true") == .bool(true))
        #expect(JSONValue.parse("3") == .number(3))
        #expect(JSONValue.parse("\"s\"") == .string("s"))
        #expect(JSONValue.parse("null") == .null)
        #expect(JSONValue.parse("{") == nil)
    }
}
